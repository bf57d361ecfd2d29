// Scale-out: two stateless servers on one ClickHouse. Agents spread batches over both (and retry some
// on the other one); either server shows every flow exactly once, and both hosts' edges on one map.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { startServer } from '../../src/server/index.js';
import { makeFlow } from '../store/fixtures.js';
import { CLICKHOUSE_SKIP, startClickHouse, type RunningClickHouse } from '../store/clickhouse-server.js';

const wire = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

describe('two servers sharing ClickHouse', { skip: CLICKHOUSE_SKIP }, () => {
  let ch: RunningClickHouse;
  const stores: Store[] = [];
  const servers: Awaited<ReturnType<typeof startServer>>[] = [];

  before(async () => {
    ch = await startClickHouse();
    for (let i = 0; i < 2; i++) {
      const store = await openStore(ch.url('fl_scale'), { retentionHours: 0, batch: { maxDelayMs: 100 } });
      stores.push(store);
      servers.push(await startServer({ store, port: 0, token: 'scale-token' }));
    }
  });
  after(async () => {
    for (const s of servers) await s.close();
    for (const s of stores) await s.close();
    await ch?.stop();
  });

  it('shows every flow once, whichever server received it (and duplicates do not double)', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const hostA = Array.from({ length: 30 }, (_, i) =>
      makeFlow({ tsNs: now, host: 'host-a', client: { ip: '10.0.1.1', port: 30000 + i }, server: { ip: '10.0.2.1', port: 80 }, serverProc: { pid: 9, comm: 'api', cgroupId: 1n } }),
    );
    // host-b runs the api; its flows call the database (the cross-host edge is host-a's curl -> api)
    const hostB = Array.from({ length: 20 }, (_, i) =>
      makeFlow({ tsNs: now, host: 'host-b', clientProc: { pid: 9, comm: 'api', cgroupId: 1n }, client: { ip: '10.0.2.1', port: 40000 + i }, server: { ip: '10.0.2.2', port: 5432 }, serverProc: { pid: 10, comm: 'postgres', cgroupId: 2n } }),
    );
    const send = (i: number, host: string, flows: unknown[]) =>
      fetch(`${servers[i]!.url}/api/ingest`, { method: 'POST', headers: { authorization: 'Bearer scale-token' }, body: wire({ host, flows }) }).then((r) => assert.equal(r.status, 200));
    await Promise.all([
      send(0, 'host-a', hostA.slice(0, 15)),
      send(1, 'host-a', hostA.slice(15)),
      send(1, 'host-b', hostB),
      send(0, 'host-a', hostA.slice(10, 20)), // a retry that reached the other server too
    ]);
    for (const s of servers) {
      const got = (await (await fetch(`${s.url}/api/flows?limit=1000`)).json()) as { flows: { id: string; host: string }[] };
      assert.equal(got.flows.length, 50);
      assert.equal(new Set(got.flows.map((f) => `${f.host}|${f.id}`)).size, 50);
      const map = (await (await fetch(`${s.url}/api/map`)).json()) as { edges: { source: string; target: string; flows: number; bytesClientToServer: string }[] };
      const apiEdge = map.edges.find((e) => e.source === 'process:curl' && e.target === 'process:api')!;
      assert.equal(apiEdge.flows, 30);
      assert.equal(BigInt(apiEdge.bytesClientToServer), BigInt(hostA.reduce((a, f) => a + f.bytesClientToServer, 0)));
      assert.equal(map.edges.find((e) => e.target === 'process:postgres')!.flows, 20);
    }
  });
});
