// The store suite on the embedded DuckDB engine, plus file lifecycle: create, migrate, re-open.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { openStore, SCHEMA_VERSION, TABLE_NAMES } from '../../src/store/index.js';
import { makeFlow } from './fixtures.js';
import { migrationSuite, rollupSuite, storeSuite, type OpenStore } from './suite.js';

const dir = mkdtempSync(join(tmpdir(), 'fl-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const batch = { maxRows: 50, maxDelayMs: 200 };

describe('duckdb store', () => {
  const open: OpenStore = (o = {}) =>
    openStore(join(dir, `${o.name ?? `suite-${++n}`}.duckdb`), { batch, retentionHours: 0, ...(o.migrateTo ? { migrateTo: o.migrateTo } : {}) });
  storeSuite(open);
  rollupSuite(open);
  migrationSuite(open);

  it('reads flow rows written before a migration added columns', async () => {
    const file = join(dir, 'v1-flows.duckdb');
    await (await openStore(file, { retentionHours: 0, migrateTo: 1 })).close();
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run(`INSERT INTO flows (ts_ns, host, id, netns, proto, client_ip, client_port, server_ip, server_port, socket_cookies,
      first_seen_ns, last_seen_ns, bytes_c2s, bytes_s2c, calls_c2s, calls_s2c, errors_total, errors)
      VALUES (7, 'old', 'f-old', 1, 'tcp', '10.0.0.1', 1, '10.0.0.2', 2, '1', 1, 2, 3, 4, 5, 6, 0, '{}')`);
    c.closeSync();
    db.closeSync();
    const s = await openStore(file, { retentionHours: 0 });
    try {
      const [f] = await s.queryFlows({ fromNs: 0n, toNs: 10n });
      assert.equal(f!.id, 'f-old');
      assert.equal(f!.bytesServerToClient, 4);
      assert.equal(f!.durationNs, undefined);
      assert.equal(f!.syscalls, undefined);
    } finally {
      await s.close();
    }
  });

  it('creates the schema in an empty file under the data dir and re-opens it without re-migrating', async () => {
    const dataDir = join(dir, 'data', 'nested');
    const file = join(dataDir, 'faultlens.duckdb');
    const s1 = await openStore(undefined, { dataDir, retentionHours: 0 });
    assert.ok(existsSync(file), 'default file under the data dir');
    assert.equal(await s1.schemaVersion(), SCHEMA_VERSION);
    const f = makeFlow({ tsNs: 5n });
    await s1.writeFlows([f]);
    await s1.close(); // close flushes
    const s2 = await openStore(`duckdb://${file}`, { retentionHours: 0 });
    assert.equal(await s2.schemaVersion(), SCHEMA_VERSION);
    assert.deepEqual(await s2.queryFlows({ fromNs: 0n, toNs: 10n }), [f]);
    await s2.close();
    // one row per applied migration, and every table present
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    const versions = (await c.runAndReadAll('SELECT version FROM schema_version')).getRows();
    assert.equal(versions.length, SCHEMA_VERSION);
    const tables = (await c.runAndReadAll("SELECT table_name FROM information_schema.tables")).getRows().map((r) => r[0]);
    for (const t of TABLE_NAMES) assert.ok(tables.includes(t), `table ${t}`);
    c.closeSync();
    db.closeSync();
  });

  it('refuses a file written by a newer schema and names the problem', async () => {
    const file = join(dir, 'future.duckdb');
    await (await openStore(file, { retentionHours: 0 })).close();
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run(`INSERT INTO schema_version VALUES (${SCHEMA_VERSION + 1}, 0)`);
    c.closeSync();
    db.closeSync();
    await assert.rejects(openStore(file, { retentionHours: 0 }), /newer than this faultlens/);
  });

  it('rejects a store URL it does not understand', async () => {
    await assert.rejects(openStore('postgres://x/y'), /unsupported store URL/);
  });
});
