// Config loading: defaults < YAML file < FAULTLENS_* env < flags, and errors that name the culprit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'fl-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const noEnv = { HOME: dir } as NodeJS.ProcessEnv;

describe('config', () => {
  it('has safe defaults: loopback, port 7070, DuckDB under ~/.faultlens/data', () => {
    const c = loadConfig({ env: noEnv });
    assert.equal(c.server.host, '127.0.0.1');
    assert.equal(c.server.port, 7070);
    assert.equal(c.server.token, undefined);
    assert.equal(c.store.url, undefined);
    assert.match(c.dataDir, /\.faultlens\/data$/);
    assert.equal(c.store.retentionHours, 24);
  });

  it('layers file < env < flags', () => {
    const cfgPath = file('layers.yaml', 'server:\n  port: 8000\n  host: 0.0.0.0\nstore:\n  retentionHours: 2\n  flushMs: 250\n');
    const c = loadConfig({
      configPath: cfgPath,
      env: { ...noEnv, FAULTLENS_SERVER_PORT: '9000', FAULTLENS_STORE_RETENTION_HOURS: '5', FAULTLENS_STORE_URL: 'clickhouse://ch:8123/x' },
      flags: { 'server.port': 9100, 'server.token': undefined },
    });
    assert.equal(c.server.port, 9100); // flag beats env beats file
    assert.equal(c.server.host, '0.0.0.0'); // file only
    assert.equal(c.store.retentionHours, 5); // env beats file
    assert.equal(c.store.flushMs, 250);
    assert.equal(c.store.url, 'clickhouse://ch:8123/x');
    assert.equal(c.configFile, cfgPath);
  });

  it('finds the file through FAULTLENS_CONFIG', () => {
    const p = file('env.yaml', 'hostname: node-7\n');
    assert.equal(loadConfig({ env: { ...noEnv, FAULTLENS_CONFIG: p } }).hostname, 'node-7');
  });

  it('names the setting, the problem and its source', () => {
    const bad = (o: Parameters<typeof loadConfig>[0], re: RegExp) =>
      assert.throws(() => loadConfig(o), (e: Error) => e instanceof ConfigError && re.test(e.message), `expected ${re}`);
    bad({ env: { ...noEnv, FAULTLENS_SERVER_PORT: 'eighty' } }, /server\.port: .*expected number.*environment variable FAULTLENS_SERVER_PORT/);
    bad({ env: noEnv, flags: { 'server.port': 70000 }, flagNames: { 'server.port': '--port' } }, /server\.port: .*65535.*flag --port/);
    bad({ env: noEnv, flags: { 'server.token': 'short' } }, /server\.token: must be at least 8 characters/);
    bad({ configPath: file('typo.yaml', 'server:\n  prot: 1\n'), env: noEnv }, /server\.prot: unknown setting \(from config file .*typo\.yaml\)/);
    bad({ configPath: file('broken.yaml', 'server:\n  port: [1,\n'), env: noEnv }, /not valid YAML/);
    bad({ configPath: file('list.yaml', '- 1\n- 2\n'), env: noEnv }, /must be a YAML mapping/);
    bad({ configPath: join(dir, 'missing.yaml'), env: noEnv }, /cannot read config file .*ENOENT/);
  });

  it('accepts an empty file', () => {
    assert.equal(loadConfig({ configPath: file('empty.yaml', ''), env: noEnv }).server.port, 7070);
  });
});
