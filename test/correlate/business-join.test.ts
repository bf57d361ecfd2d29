// The business-event join: thread + time containment, innermost request wins, client-side records are not
// "being served", and the process fallback only when unambiguous.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinBusinessEvents, RequestIndex, type ServedRequest } from '../../src/correlate/business-join.js';
import type { RequestRecord } from '../../src/model/request.js';

const req = (id: string, pid: number, tid: number, start: number, end: number, extra: Partial<ServedRequest> = {}): ServedRequest => ({
  id, pid, tid, startNs: BigInt(start), endNs: BigInt(end), side: 'server', serverService: 'payment',
  endpoint: `/e/${id}`, traceId: `t-${id}`, flowId: `f-${id}`, ...extra,
});
const ev = (pid: number, tid: number, ts: number) => ({ pid, tid, tsNs: BigInt(ts), probe: 'charge' });

test('an event joins the request its thread was serving at that moment', () => {
  const requests = [req('a', 10, 11, 100, 200), req('b', 10, 12, 150, 300), req('c', 10, 11, 250, 400)];
  const [e1, e2, e3, e4] = joinBusinessEvents([ev(10, 11, 150), ev(10, 12, 160), ev(10, 11, 260), ev(10, 11, 220)], requests);
  assert.deepEqual(e1!.request, { requestId: 'a', service: 'payment', endpoint: '/e/a', traceId: 't-a', flowId: 'f-a', joinedBy: 'thread' });
  assert.equal(e2!.request?.requestId, 'b');
  assert.equal(e3!.request?.requestId, 'c');
  // tid 11 is between requests at 220; tid 12's request contains it, but that is another thread of a process
  // with one request in flight -> joined by process
  assert.equal(e4!.request?.requestId, 'b');
  assert.equal(e4!.request?.joinedBy, 'process');
  assert.equal(e1!.probe, 'charge', 'event fields are kept');
});

test('boundaries are inclusive; other processes and client-side exchanges never match', () => {
  const requests = [req('a', 10, 11, 100, 200), req('x', 10, 11, 120, 180, { side: 'client' }), req('o', 20, 21, 0, 1000)];
  const [atStart, atEnd, after, otherPid] = joinBusinessEvents([ev(10, 11, 100), ev(10, 11, 200), ev(10, 11, 201), ev(30, 31, 150)], requests);
  assert.equal(atStart!.request?.requestId, 'a');
  assert.equal(atEnd!.request?.requestId, 'a');
  assert.equal(after!.request, undefined);
  assert.equal(otherPid!.request, undefined);
  const [inner] = joinBusinessEvents([ev(10, 11, 150)], requests);
  assert.equal(inner!.request?.requestId, 'a', 'the outbound call made while serving a does not replace a');
});

test('nested / pipelined requests on one thread: the latest start wins; process fallback refuses ambiguity', () => {
  const requests = [req('outer', 10, 11, 100, 500), req('inner', 10, 11, 200, 300), req('p1', 40, 41, 0, 100), req('p2', 40, 42, 0, 100)];
  const [nested, outerOnly, ambiguous] = joinBusinessEvents([ev(10, 11, 250), ev(10, 11, 400), ev(40, 43, 50)], requests);
  assert.equal(nested!.request?.requestId, 'inner');
  assert.equal(outerOnly!.request?.requestId, 'outer');
  assert.equal(ambiguous!.request, undefined, 'two requests of the process in flight on other threads: no guess');
});

test('unsorted input and an incremental index give the same answers; RequestRecord fits ServedRequest', () => {
  const rs = [req('c', 1, 1, 500, 600), req('a', 1, 1, 100, 200), req('b', 1, 1, 300, 400)];
  const idx = new RequestIndex();
  for (const r of rs) idx.add(r);
  const events = [ev(1, 1, 150), ev(1, 1, 350), ev(1, 1, 550), ev(1, 1, 250)];
  assert.deepEqual(joinBusinessEvents(events, idx).map((e) => e.request?.requestId), ['a', 'b', 'c', undefined]);
  assert.deepEqual(joinBusinessEvents(events, rs).map((e) => e.request?.requestId), ['a', 'b', 'c', undefined]);
  const record = { ...rs[0]!, side: 'server', serverService: 'payment' } as unknown as RequestRecord;
  const asServed: ServedRequest = record; // compile-time: the APM record satisfies the join's interface
  assert.ok(asServed);
});
