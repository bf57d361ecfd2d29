// Call chains on recorded demo traffic: trees per curl request, deterministic links by header and by
// exchange, the time/thread heuristic measured against the header ground truth, and the streaming linker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApmPipeline } from '../../src/correlate/apm.js';
import { buildTraceTree, formatTraceTree, linkRecords, tracePaths } from '../../src/correlate/traces.js';
import type { RequestRecord } from '../../src/model/request.js';
import { fixtureResolver, loadFixture, trackFixture } from '../fixtures/apm/load-fixture.js';

const clone = (rs: RequestRecord[]) => rs.map((r) => ({ ...r }));
const order = trackFixture(loadFixture('demo-order')).records;
const concurrent = trackFixture(loadFixture('demo-concurrent')).records;

test('one trace per request curl issued; an order spans every service', () => {
  const traces = linkRecords(clone(order));
  assert.equal(traces.size, 6);
  const orderTraces = [...traces.values()].filter((m) => m.some((r) => r.endpoint === '/orders'));
  assert.equal(orderTraces.length, 2);
  for (const members of orderTraces) {
    const paths = new Set(tracePaths(buildTraceTree(members)));
    for (const p of [
      'curl > gateway > frontend > orders > cart > redis',
      'curl > gateway > frontend > orders > catalog > postgres',
      'curl > gateway > frontend > orders > payment',
      'curl > gateway > frontend > orders > postgres',
    ]) assert.ok(paths.has(p), `${p} in ${[...paths].join(', ')}`);
    // the trace id is nginx's request id, carried by every hop behind the gateway
    const rid = members.find((r) => r.requestIdHeader)!.requestIdHeader!;
    assert.equal(members[0]!.traceId, rid);
    assert.ok(members.every((r) => r.traceId === rid));
    const roots = buildTraceTree(members);
    assert.equal(roots.length, 1);
    assert.equal(roots[0]!.record.clientService, 'curl');
    const text = formatTraceTree(roots);
    assert.match(text, /frontend -> orders {2}http1 POST \/orders {2}201/);
    assert.match(text, /orders -> payment {2}http1 POST \/charge {2}200/);
  }
});

test('parents enclose children in time; exchanges pair both ends of one call', () => {
  const rs = clone(order);
  linkRecords(rs);
  const bySpan = new Map(rs.map((r) => [r.spanId!, r]));
  for (const r of rs) {
    if (!r.parentSpanId) continue;
    const p = bySpan.get(r.parentSpanId)!;
    assert.ok(p.startNs <= r.startNs && p.endNs >= r.endNs, `${p.endpoint} encloses ${r.endpoint}`);
    if (r.linkedBy === 'exchange') {
      assert.equal(p.flowId, r.flowId);
      assert.equal(p.side, 'client');
      assert.equal(r.side, 'server');
    } else {
      assert.equal(p.pid, r.pid, 'nesting stays in one process');
      assert.equal(p.side, 'server');
    }
  }
});

/** Fraction of nesting links (inbound -> outbound in one process) that agree with the header-linked truth. */
function accuracy(records: RequestRecord[]): { links: number; correct: number; ambiguous: number; wrongSure: number } {
  const truth = new Map<string, string | undefined>();
  for (const r of (() => { const c = clone(records); linkRecords(c); return c; })()) truth.set(r.id, r.parentSpanId);
  const blind = clone(records);
  linkRecords(blind, { useHeaders: false });
  let links = 0, correct = 0, ambiguous = 0, wrongSure = 0;
  for (const r of blind) {
    if (r.linkedBy === 'exchange' || r.side !== 'client' || !truth.get(r.id)) continue;
    links++;
    const ok = truth.get(r.id) === r.parentSpanId;
    if (ok) correct++;
    if ((r.linkScore ?? 1) < 1) ambiguous++;
    else if (!ok) wrongSure++;
  }
  return { links, correct, ambiguous, wrongSure };
}

test('without headers, thread/time linking matches the header truth; uncertain links are scored < 1', () => {
  for (const [name, recs] of [['sequential', order], ['concurrent', concurrent]] as const) {
    const a = accuracy(recs);
    console.log(`# call-chain accuracy without headers (${name}): ${a.correct}/${a.links} links right, ${a.ambiguous} scored ambiguous`);
    assert.ok(a.links >= (name === 'sequential' ? 25 : 60), `${name}: ${a.links} links`);
    assert.equal(a.wrongSure, 0, `${name}: a link scored certain was wrong`);
    if (name === 'sequential') assert.equal(a.correct, a.links);
    else assert.ok(a.correct / a.links >= 0.9, `${name}: ${a.correct}/${a.links}`);
  }
});

test('ambiguity: overlapping inbound requests on one event loop score 1/n', () => {
  const base = order.find((r) => r.side === 'server' && r.serverService === 'orders')!;
  const out = order.find((r) => r.side === 'client' && r.pid === base.pid)!;
  const mk = (id: string, s: bigint, e: bigint, side: 'server' | 'client', flow: string): RequestRecord =>
    ({ ...base, id, spanId: id, side, startNs: s, endNs: e, durationNs: e - s, flowId: flow, tid: base.pid, requestIdHeader: undefined, traceparent: undefined });
  const recs = [
    mk('in1', 100n, 500n, 'server', 'f1'),
    mk('in2', 150n, 600n, 'server', 'f2'),
    mk('in3', 700n, 900n, 'server', 'f3'),
    { ...mk('out1', 200n, 300n, 'client', 'f9'), pid: out.pid },
    { ...mk('out2', 710n, 800n, 'client', 'f9'), pid: out.pid },
  ];
  linkRecords(recs);
  const [o1, o2] = [recs[3]!, recs[4]!];
  assert.equal(o1.parentSpanId, 'in2'); // the latest started of the two open ones
  assert.equal(o1.linkScore, 0.5);
  assert.equal(o1.linkedBy, 'process');
  assert.equal(o2.parentSpanId, 'in3');
  assert.equal(o2.linkScore, 1);
  // with a header, the choice is deterministic
  const withHdr = recs.map((r) => ({ ...r }));
  withHdr[0]!.requestIdHeader = 'rid-1';
  withHdr[3]!.requestIdHeader = 'rid-1';
  linkRecords(withHdr);
  assert.equal(withHdr[3]!.parentSpanId, 'in1');
  assert.equal(withHdr[3]!.linkedBy, 'header');
  assert.equal(withHdr[3]!.linkScore, 1);
});

test('streaming pipeline: replayed events give the batch linker\'s trees, released once settled', () => {
  const fx = loadFixture('demo-order');
  const batch = clone(order);
  const batchTraces = linkRecords(batch);
  const key = (r: RequestRecord) => `${r.side}|${r.flowId}|${r.startNs}`;
  const truth = new Map(batch.map((r) => [key(r), r]));
  // a settle time far below the orders' own duration (~150 ms): the open-inbound hook must hold children back
  const apm = new ApmPipeline({ services: fixtureResolver(fx), linker: { settleNs: 5_000_000n } });
  const out: RequestRecord[] = [];
  for (const ev of fx.events) {
    apm.onEvent(ev);
    const released = apm.tick(ev.tsNs);
    for (const x of released) assert.ok(x.endNs <= ev.tsNs, 'nothing is released before it ended');
    out.push(...released);
  }
  out.push(...apm.finish());
  assert.equal(out.length, order.length);
  assert.equal(apm.linker.pendingCount, 0);
  const spanOf = new Map(out.map((r) => [r.spanId, r]));
  const bSpan = new Map(batch.map((r) => [r.spanId, r]));
  for (const r of out) {
    const t = truth.get(key(r))!;
    assert.ok(t, 'same records');
    const p = r.parentSpanId ? key(spanOf.get(r.parentSpanId)!) : undefined;
    const tp = t.parentSpanId ? key(bSpan.get(t.parentSpanId)!) : undefined;
    assert.equal(p, tp, `parent of ${r.side} ${r.clientService}->${r.serverService} ${r.endpoint}`);
    assert.equal(r.traceId === undefined, false);
  }
  assert.equal(new Set(out.map((r) => r.traceId)).size, batchTraces.size);
  // RED saw every released record
  assert.equal(apm.red.total, out.length);
});

test('a callee record that completes long before its caller\'s record still joins the caller\'s exchange', () => {
  // every event is followed by a 2 s lull (settle time 5 ms): a server-side record would be released as a
  // root unless the linker knows its caller's record of the same flow is still open
  const fx = loadFixture('demo-order');
  const batch = clone(order);
  linkRecords(batch);
  const exchanges = batch.filter((r) => r.linkedBy === 'exchange').length;
  assert.ok(exchanges >= 10, `${exchanges} exchanges in the fixture`);
  const apm = new ApmPipeline({ services: fixtureResolver(fx), linker: { settleNs: 5_000_000n } });
  const out: RequestRecord[] = [];
  for (const ev of fx.events) {
    apm.onEvent(ev);
    out.push(...apm.tick(ev.tsNs + 2_000_000_000n));
  }
  out.push(...apm.finish());
  assert.equal(out.length, order.length);
  const orphans = out.filter((r) => r.side === 'server' && r.linkedBy !== 'exchange' && r.clientService !== 'curl');
  assert.deepEqual(orphans.map((r) => `${r.clientService}->${r.serverService} ${r.endpoint}`), []);
  assert.equal(out.filter((r) => r.linkedBy === 'exchange').length, exchanges);
});
