// A real Prometheus (Debian package) scrapes /metrics; PromQL returns the flow series the test inserted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { startServer } from '../../src/server/index.js';
import { freePort } from '../store/clickhouse-server.js';
import { makeFlow } from '../store/fixtures.js';

const PROMETHEUS = '/usr/bin/prometheus';
const skip = existsSync(PROMETHEUS) ? false : 'prometheus not installed (apt-get install prometheus; scripts/bootstrap.sh --test does it)';

describe('Prometheus scrape', { skip }, () => {
  let store: Store;
  let srv: Awaited<ReturnType<typeof startServer>>;
  let prom: ChildProcess;
  let promUrl: string;
  const dir = mkdtempSync(join(tmpdir(), 'fl-prom-'));

  before(async () => {
    store = await openStore('duckdb::memory:', { retentionHours: 0 });
    srv = await startServer({ store, port: 0 });
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: faultlens\n    static_configs:\n      - targets: ['127.0.0.1:${srv.port}']\n`,
    );
    prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: 'ignore',
    });
  });
  after(async () => {
    if (prom && prom.exitCode === null) {
      prom.kill('SIGTERM');
      await new Promise((r) => prom.once('exit', r));
    }
    await srv?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers PromQL with the bytes, calls and errors of the stored flows', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const flows = [1234, 5678, 91011].map((b, i) => makeFlow({ tsNs: now, bytesClientToServer: b, callsClientToServer: i, errors: { ECONNREFUSED: i } }));
    await srv.ingestor.ingest('h', flows).durable;
    const query = async (q: string) => {
      const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { value: [number, string] }[] } };
      return r.data.result;
    };
    let result: { value: [number, string] }[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        result = await query('sum(faultlens_flow_bytes_total{client="curl",server="nginx",direction="client_to_server"})');
        if (result.length) break;
      } catch {
        /* prometheus not up yet */
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(result.length, 1, 'Prometheus never scraped the series');
    assert.equal(Number(result[0]!.value[1]), 1234 + 5678 + 91011);
    assert.equal(Number((await query('faultlens_flow_calls_total{server_port="80"}'))[0]!.value[1]), flows.reduce((a, f) => a + f.callsClientToServer + f.callsServerToClient, 0));
    assert.equal(Number((await query('faultlens_flow_errors_total'))[0]!.value[1]), 0 + 1 + 2);
    assert.equal(Number((await query('up{job="faultlens"}'))[0]!.value[1]), 1);
  });
});
