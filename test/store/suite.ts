// The store behaviour every engine must show; run by duckdb.test.ts and clickhouse.test.ts.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SCHEMA_VERSION, type Row, type Store } from '../../src/store/index.js';
import { BIG_CGROUP, BIG_COOKIE, makeFlow } from './fixtures.js';

const T0 = 1_760_000_000_000_000_000n; // a wall-clock ns base
const S = 1_000_000_000n;

async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `name` reopens the same database/file; without it every call gets a fresh one. */
export type OpenStore = (opts?: { name?: string; migrateTo?: number }) => Promise<Store>;

export function storeSuite(open: OpenStore): void {
  it('round-trips flows with exact 64-bit values and keeps the newest snapshot per flow', async () => {
    const store = await open();
    try {
      const a1 = makeFlow({ tsNs: T0 + 1n * S, bytesClientToServer: 10 });
      const a2 = {
        ...a1,
        tsNs: T0 + 2n * S,
        bytesClientToServer: 5000,
        closedNs: 123456790012345678n,
        durationNs: 1000000000n,
        clientNetns: 4026532000,
        serverNetns: 4026532001,
        syscalls: ['connect', 'sendmsg', 'read'],
        errors: { ECONNRESET: 2 },
      };
      const b = makeFlow({ tsNs: T0 + 1n * S, proto: 'udp', clientProc: undefined, server: { ip: 'fd00::2', port: 53 } });
      delete (b as { clientProc?: unknown }).clientProc;
      void store.writeFlows([a1, b, a2]);
      await store.flush();
      const got = await store.queryFlows({ fromNs: T0, toNs: T0 + 10n * S });
      assert.equal(got.length, 2);
      const ga = got.find((f) => f.id === a1.id)!;
      assert.deepEqual(ga, a2);
      assert.equal(ga.socketCookies[0], BIG_COOKIE);
      assert.equal(ga.clientProc!.cgroupId, BIG_CGROUP);
      const gb = got.find((f) => f.id === b.id)!;
      assert.deepEqual(gb, b);
      assert.equal(gb.clientProc, undefined);
      // ordered by bytes: a (5000 + 1000) before b (100 + 1000)
      assert.deepEqual(got.map((f) => f.id), [a1.id, b.id]);
    } finally {
      await store.close();
    }
  });

  it('filters flows by time range, netns, pid, ip, port, comm and host', async () => {
    const store = await open();
    try {
      const base = T0 + 100n * S;
      const f1 = makeFlow({ tsNs: base, netns: 1, client: { ip: '10.1.0.1', port: 5001 }, server: { ip: '10.1.0.9', port: 6379 } });
      const f2 = makeFlow({ tsNs: base, netns: 2, client: { ip: '10.2.0.1', port: 5002 }, server: { ip: '10.2.0.9', port: 5432 } });
      const f3 = makeFlow({ tsNs: base + 50n * S, netns: 1, host: 'h2', server: { ip: '10.1.0.9', port: 6379 } });
      await store.writeFlows([f1, f2, f3]);
      await store.flush();
      const r = { fromNs: base, toNs: base + 10n * S };
      const ids = async (q: object) => (await store.queryFlows({ ...r, ...q })).map((f) => f.id).sort();
      assert.deepEqual(await ids({}), [f1.id, f2.id].sort());
      assert.deepEqual(await ids({ netns: 2 }), [f2.id]);
      assert.deepEqual(await ids({ pid: f1.clientProc!.pid }), [f1.id]);
      assert.deepEqual(await ids({ pid: 2000 }), [f1.id, f2.id].sort()); // server pid matches both ends
      assert.deepEqual(await ids({ ip: '10.2.0.9' }), [f2.id]);
      assert.deepEqual(await ids({ port: 6379 }), [f1.id]);
      assert.deepEqual(await ids({ port: 5002 }), [f2.id]);
      assert.deepEqual(await ids({ comm: 'nginx' }), [f1.id, f2.id].sort());
      assert.deepEqual(await ids({ comm: "it's-not-there" }), []);
      const wide = { fromNs: base, toNs: base + 60n * S };
      assert.deepEqual((await store.queryFlows({ ...wide, host: 'h2' })).map((f) => f.id), [f3.id]);
      assert.equal((await store.queryFlows({ ...wide, port: 6379 })).length, 2);
    } finally {
      await store.close();
    }
  });

  it('lists top flows by bytes and totals per edge', async () => {
    const store = await open();
    try {
      const base = T0 + 1000n * S;
      const flows = [300, 100, 900, 500].map((bytes, i) =>
        makeFlow({ tsNs: base + BigInt(i) * S, bytesClientToServer: bytes, bytesServerToClient: 0, errors: i === 2 ? { ECONNREFUSED: 3 } : {} }),
      );
      await store.writeFlows(flows);
      await store.flush();
      const r = { fromNs: base, toNs: base + 10n * S };
      const top = await store.topFlowsByBytes(r, 2);
      assert.deepEqual(top.map((f) => f.bytesClientToServer), [900, 500]);
      const edges = await store.edgeTotals(r);
      assert.equal(edges.length, 1);
      const e = edges[0]!;
      assert.equal(e.client, 'curl');
      assert.equal(e.server, 'nginx');
      assert.equal(e.serverPort, 80);
      assert.equal(e.flows, 4);
      assert.equal(e.bytesClientToServer, 1800n);
      assert.equal(e.calls, 12n);
      assert.equal(e.errors, 3n);
    } finally {
      await store.close();
    }
  });

  it('writes and lists every other table by time range', async () => {
    const store = await open();
    try {
      const base = T0 + 2000n * S;
      await store.write('tcp_samples', [
        { ts_ns: base, host: 'h1', cookie: BIG_COOKIE, srtt_us: 250, retrans: 1, data: { big: 2n ** 60n } },
        { ts_ns: base + 100n * S, host: 'h1', cookie: 1n, srtt_us: 1 },
      ]);
      await store.write('requests', [{ ts_ns: base, host: 'h1', protocol: 'http', method: 'GET', endpoint: '/a\tb\n\'"\\', status: 500, duration_ns: 1234n, error: true }]);
      await store.write('business_events', [{ ts_ns: base, host: 'h1', name: 'order.placed', pid: 7, data: { amount: 12.5 } }]);
      await store.write('findings', [{ ts_ns: base, host: 'h1', id: 'f1', kind: 'retransmits', severity: 'warn', subject: 'flow x', summary: 's' }]);
      await store.write('alerts', [{ ts_ns: base, host: 'h1', id: 'a1', rule: 'r', state: 'firing', severity: 'crit', summary: 's' }]);
      await store.write('faults', [{ ts_ns: base, host: 'h1', id: 'x1', kind: 'drop', target: 'port 80', state: 'active', expires_ns: base + 60n * S }]);
      await store.flush();
      const r = { fromNs: base, toNs: base + 10n * S };
      const tcp = await store.list('tcp_samples', r);
      assert.equal(tcp.length, 1);
      assert.equal(tcp[0]!.cookie, BIG_COOKIE);
      assert.equal(tcp[0]!.srtt_us, 250n);
      assert.deepEqual(tcp[0]!.data, { big: (2n ** 60n).toString() });
      const req = (await store.list('requests', r))[0]!;
      assert.equal(req.endpoint, '/a\tb\n\'"\\');
      assert.equal(req.error, true);
      assert.equal(req.status, 500);
      assert.equal(req.duration_ns, 1234n);
      assert.deepEqual((await store.list('business_events', r))[0]!.data, { amount: 12.5 });
      for (const t of ['findings', 'alerts', 'faults'] as const) assert.equal((await store.list(t, r)).length, 1, t);
      assert.equal((await store.list('faults', r))[0]!.expires_ns, base + 60n * S);
      assert.equal((await store.list('tcp_samples', { fromNs: base, toNs: base + 200n * S, limit: 1 }))[0]!.ts_ns, base + 100n * S);
    } finally {
      await store.close();
    }
  });

  it('deletes raw rows older than the retention cut-off', async () => {
    const store = await open();
    try {
      const base = T0 + 3000n * S;
      await store.writeFlows([makeFlow({ tsNs: base }), makeFlow({ tsNs: base + 3600n * S })]);
      await store.write('findings', [
        { ts_ns: base, host: 'h1', id: 'old', kind: 'k', severity: 's', subject: 's', summary: 's' },
        { ts_ns: base + 3600n * S, host: 'h1', id: 'new', kind: 'k', severity: 's', subject: 's', summary: 's' },
      ]);
      await store.flush();
      const r = { fromNs: base, toNs: base + 7200n * S };
      assert.equal((await store.queryFlows(r)).length, 2);
      await store.applyRetention(base + 1800n * S);
      // ClickHouse applies deletes as asynchronous mutations
      await eventually(async () => (await store.queryFlows(r)).length === 1, 'flow retention');
      await eventually(async () => (await store.list('findings', r)).length === 1, 'findings retention');
      assert.equal((await store.list('findings', r))[0]!.id, 'new');
    } finally {
      await store.close();
    }
  });

  it('batches writes: durable after the time bound, immediately at the size bound', async () => {
    const store = await open();
    try {
      const base = T0 + 9000n * S;
      const r = { fromNs: base, toNs: base + 10n * S };
      const durable = store.writeFlows([makeFlow({ tsNs: base })]);
      assert.equal(store.stats().pendingRows, 1);
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(store.stats().pendingRows, 1, 'flushed before the time bound (200 ms)');
      await durable; // resolves at the timed flush
      assert.equal((await store.queryFlows(r)).length, 1);
      const many = Array.from({ length: 50 }, (_, i) => makeFlow({ tsNs: base + 1n + BigInt(i) }));
      const written = store.writeFlows(many); // 50 = maxRows in the suite's options: the flush starts at once
      assert.equal(store.stats().pendingRows, 0, 'size bound did not start a flush');
      await written;
      assert.equal((await store.queryFlows(r)).length, 51);
      await assert.rejects(store.write('tcp_samples', [{ ts_ns: base, cookie: -1n }]), /negative/);
    } finally {
      await store.close();
    }
  });
}

/** A `requests` row as requestToRow makes it (side and both services in `data`). */
function requestRow(tsNs: bigint, o: { side: 'server' | 'client'; client: string; server: string; endpoint: string; ms: number; error?: boolean; host?: string }): Row {
  return {
    ts_ns: tsNs,
    host: o.host ?? 'h1',
    service: o.side === 'server' ? o.server : o.client,
    protocol: 'http1',
    method: 'GET',
    endpoint: o.endpoint,
    status: o.error ? 500 : 200,
    duration_ns: BigInt(Math.round(o.ms * 1e6)),
    error: !!o.error,
    span_id: 'abcd',
    data: { side: o.side, clientService: o.client, serverService: o.server },
  };
}

export function rollupSuite(open: OpenStore): void {
  it('rolls requests up per minute, endpoint and edge; the rollups outlive raw retention', async () => {
    const store = await open();
    try {
      const M = 60n * S;
      const base = T0 - (T0 % M) + 100n * M; // a minute boundary
      const rows: Row[] = [];
      // minute 0: 90 fast /items (10 errors) and 10 slow; minute 1: 50 more, all 40 ms; 1 ms apart in time
      for (let i = 0; i < 100; i++) rows.push(requestRow(base + BigInt(i) * 1_000_000n, { side: 'server', client: 'web', server: 'api', endpoint: '/items/{id}', ms: i < 90 ? 2 + (i % 10) / 10 : 200, error: i < 10 }));
      for (let i = 0; i < 50; i++) rows.push(requestRow(base + M + BigInt(i) * 1_000_000n, { side: 'server', client: 'web', server: 'api', endpoint: '/items/{id}', ms: 40, host: i % 2 ? 'h1' : 'h2' }));
      // the caller's view of the same calls (must not double the count) and a peer only seen as a client
      for (let i = 0; i < 100; i++) rows.push(requestRow(base + BigInt(i) * 1_000_000n, { side: 'client', client: 'web', server: 'api', endpoint: '/items/{id}', ms: 3 }));
      for (let i = 0; i < 7; i++) rows.push(requestRow(base + BigInt(i) * 1_000_000n, { side: 'client', client: 'api', server: '10.0.0.9:6379', endpoint: 'GET', ms: 0.5 }));
      await store.write('requests', rows);
      await store.flush(); // these minutes ended long ago: their rollups are written now
      const range = { fromNs: base, toNs: base + 10n * M };
      const eps = await store.redRollup({ ...range, kind: 'endpoint', stepNs: M });
      const items = eps.find((e) => e.endpoint === '/items/{id}')!;
      assert.deepEqual([items.service, items.side, items.count, items.errors], ['api', 'server', 150, 10]);
      assert.deepEqual(items.points.map((p) => [p.tsNs, p.count, p.errors]), [[base, 100, 10], [base + M, 50, 0]]);
      // quantiles from merged histograms: within the log-linear bucket error of the exact values
      const near = (got: number, want: number) => assert.ok(Math.abs(got - want) / want < 0.07, `${got} vs ${want}`);
      near(items.points[0]!.p50Ms, 2.5);
      near(items.points[0]!.p99Ms, 200);
      near(items.points[1]!.p50Ms, 40);
      near(items.p90Ms, 40); // over both minutes: 150 values, the 135th is one of the 40 ms
      near(items.maxMs, 200);
      near(items.meanMs, (90 * 2.45 + 10 * 200 + 50 * 40) / 150);
      const redis = eps.find((e) => e.service === '10.0.0.9:6379')!;
      assert.deepEqual([redis.side, redis.count], ['client', 7]);
      const edges = await store.redRollup({ ...range, kind: 'edge', service: 'web' });
      assert.deepEqual(edges.map((e) => [e.service, e.peer, e.side, e.count, e.errors]), [['web', 'api', 'server', 150, 10]]);
      assert.equal((await store.redRollup({ ...range, kind: 'edge', host: 'h2' }))[0]!.count, 25);
      // raw requests go at the raw cut-off; rollups stay until theirs
      await store.applyRetention(base + 10n * M, base - M);
      await eventually(async () => (await store.list('requests', range)).length === 0, 'raw requests retention');
      assert.equal((await store.redRollup({ ...range, kind: 'endpoint' })).find((e) => e.endpoint === '/items/{id}')!.count, 150);
      await store.applyRetention(base + 10n * M, base + 10n * M);
      await eventually(async () => (await store.redRollup({ ...range, kind: 'endpoint' })).length === 0, 'rollup retention');
    } finally {
      await store.close();
    }
  });

  it('counts late rows of a written minute once, and writes open minutes on close', async () => {
    const name = `rollup_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    const M = 60n * S;
    const base = T0 - (T0 % M) + 200n * M;
    const now = BigInt(Date.now()) * 1_000_000n;
    const open1 = await open({ name });
    try {
      await open1.write('requests', [requestRow(base, { side: 'server', client: 'a', server: 'b', endpoint: '/x', ms: 1 })]);
      await open1.flush();
      await open1.write('requests', [requestRow(base + 5n * S, { side: 'server', client: 'a', server: 'b', endpoint: '/x', ms: 1, error: true })]); // late
      await open1.write('requests', [requestRow(now, { side: 'server', client: 'a', server: 'b', endpoint: '/now', ms: 1 })]); // the open minute
      await open1.flush();
      const got = await open1.redRollup({ fromNs: base, toNs: base + M, kind: 'endpoint' });
      assert.deepEqual(got.map((e) => [e.endpoint, e.count, e.errors]), [['/x', 2, 1]]);
      assert.equal((await open1.redRollup({ fromNs: now - M, toNs: now + M, kind: 'endpoint' })).length, 0, 'the current minute is still open');
    } finally {
      await open1.close();
    }
    const reopened = await open({ name });
    try {
      assert.deepEqual((await reopened.redRollup({ fromNs: now - M, toNs: now + M, kind: 'endpoint' })).map((e) => [e.endpoint, e.count]), [['/now', 1]]);
    } finally {
      await reopened.close();
    }
  });
}

export function migrationSuite(open: OpenStore): void {
  it('migrates a version-1 database to the newest schema, keeping its rows', async () => {
    const name = `migrate_${Date.now()}`;
    const v1 = await open({ name, migrateTo: 1 });
    assert.equal(await v1.schemaVersion(), 1);
    await v1.write('findings', [{ ts_ns: 5n, host: 'h1', id: 'kept', kind: 'k', severity: 's', subject: 's', summary: 's' }]);
    await v1.close();
    const latest = await open({ name });
    try {
      assert.equal(await latest.schemaVersion(), SCHEMA_VERSION);
      assert.equal((await latest.list('findings', { fromNs: 0n, toNs: 10n }))[0]!.id, 'kept');
      const f = makeFlow({ tsNs: 6n, durationNs: 42n, syscalls: ['sendfile'] });
      await latest.writeFlows([f]);
      assert.deepEqual(await latest.queryFlows({ fromNs: 0n, toNs: 10n }), [f]);
    } finally {
      await latest.close();
    }
  });
}
