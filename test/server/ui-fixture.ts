// A small, fixed service graph of flows for UI tests and screenshots (frontend -> gateway -> orders ...).
import type { Ingestor } from '../../src/server/index.js';
import type { FlowSnapshot } from '../../src/store/index.js';
import { makeFlow } from '../store/fixtures.js';

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

// client comm, pid, ip -> server comm (null: an IP without a traced process), pid, ip, port, errors
export const EDGES = [
  ['frontend', 101, '10.10.0.2', 'gateway', 201, '10.10.0.3', 8080, 0],
  ['gateway', 201, '10.10.0.3', 'orders', 301, '10.10.0.4', 9000, 0],
  ['gateway', 201, '10.10.0.3', 'catalog', 401, '10.10.0.5', 9100, 0],
  ['orders', 301, '10.10.0.4', 'postgres', 501, '10.10.0.6', 5432, 0],
  ['orders', 301, '10.10.0.4', 'redis-server', 601, '10.10.0.7', 6379, 3],
  ['catalog', 401, '10.10.0.5', 'redis-server', 601, '10.10.0.7', 6379, 0],
  ['orders', 301, '10.10.0.4', null, 0, '203.0.113.9', 443, 0],
] as const;

export function demoFlows(): FlowSnapshot[] {
  const flows = EDGES.flatMap(([cc, cp, cip, sc, sp, sip, port, err], i) =>
    Array.from({ length: 2 + (i % 3) }, (_, j) => {
      const f = makeFlow({
        tsNs: nowNs(),
        host: i < 4 ? 'node-a' : 'node-b',
        client: { ip: cip, port: 40000 + i * 10 + j },
        server: { ip: sip, port },
        clientProc: { pid: cp, comm: cc, cgroupId: 1n },
        bytesClientToServer: 1000 * (i + 1) * (j + 1),
        bytesServerToClient: 50_000 * (7 - i),
        callsClientToServer: 10 * (i + 1),
        callsServerToClient: 10,
        errors: err && j === 0 ? { ECONNRESET: err } : {},
      });
      if (sc) f.serverProc = { pid: sp, comm: sc, cgroupId: 1n };
      else delete f.serverProc;
      return f;
    }),
  );
  return flows;
}

/** Seeds the flows, then keeps growing the first few every `everyMs` (as a live agent would). */
export async function runDemoTraffic(ingestor: Ingestor, everyMs = 500): Promise<() => void> {
  let flows = demoFlows();
  for (const host of ['node-a', 'node-b']) await ingestor.ingest(host, flows.filter((f) => f.host === host)).durable;
  const t = setInterval(() => {
    flows = flows.map((f, i) =>
      i < 5 ? { ...f, tsNs: nowNs(), bytesClientToServer: f.bytesClientToServer + 20_000, bytesServerToClient: f.bytesServerToClient + 90_000 } : f,
    );
    ingestor.ingest('node-a', flows.slice(0, 5));
  }, everyMs);
  return () => clearInterval(t);
}

// ---- request records: a shop's call chains, with a slow payment at the end ---------------------------

import { linkRecords } from '../../src/correlate/traces.js';
import { requestToRow } from '../../src/correlate/apm.js';
import type { RequestRecord } from '../../src/model/request.js';
import type { Row } from '../../src/store/index.js';

const SVC = {
  load: { pid: 900, ip: '10.213.0.1' },
  gateway: { pid: 100, ip: '10.213.0.10', port: 80 },
  frontend: { pid: 200, ip: '10.213.0.11', port: 8080 },
  orders: { pid: 300, ip: '10.213.0.13', port: 8083 },
  payment: { pid: 400, ip: '10.213.0.14', port: 8084 },
  postgres: { pid: 500, ip: '10.213.0.15', port: 5432 },
} as const;
type Svc = keyof typeof SVC;

interface Call { from: Svc; to: Svc; method: string; endpoint: string; selfMs: number; status?: number; error?: boolean; children?: Call[] }

let recSeq = 0;
const hex = (n: number) => n.toString(16).padStart(16, '0');

/** Both ends' records of a call and its children; returns the caller-side duration (ms). */
function emit(c: Call, startMs: number, out: RequestRecord[]): number {
  let t = startMs + 0.2;
  const inner: RequestRecord[] = [];
  for (const ch of c.children ?? []) t += emit(ch, t, inner) + 0.1;
  const serverMs = t - startMs + c.selfMs;
  const clientMs = serverMs + 0.4;
  const a = SVC[c.from], b = SVC[c.to];
  const cport = 30000 + (recSeq % 20000);
  const flowId = `4026531840:tcp:${a.ip}:${cport}-${b.ip}:${'port' in b ? b.port : 0}`;
  const ns = (ms: number) => BigInt(Math.round(ms * 1e6));
  const base = {
    protocol: c.to === 'postgres' ? 'postgres' : 'http1', method: c.method, endpoint: c.endpoint, path: c.endpoint,
    status: c.to === 'postgres' ? 'SELECT' : String(c.status ?? 200), ...(c.to === 'postgres' ? {} : { httpStatus: c.status ?? 200 }),
    error: c.error ?? false, reqBytes: 200, respBytes: 900, flowId, proto: 'tcp' as const, netns: 4026531840, cgroupId: 1n,
    client: { ip: a.ip, port: cport }, server: { ip: b.ip, port: 'port' in b ? b.port : 0 }, clientService: c.from, serverService: c.to,
  };
  const rtt = c.to === 'payment' ? 0.9 : 0.1;
  const client: RequestRecord = { ...base, id: hex(++recSeq), side: 'client', startNs: ns(startMs), endNs: ns(startMs + clientMs), durationNs: ns(clientMs),
    sockId: BigInt(recSeq), pid: a.pid, tid: a.pid, comm: c.from, tcp: { srttUs: Math.round(rtt * 1000), retransmits: c.to === 'payment' && c.selfMs > 50 ? 1 : 0, totalRetrans: 0, cwnd: 10, state: 'ESTABLISHED' } };
  out.push(client);
  out.push({ ...base, id: hex(++recSeq), side: 'server', startNs: ns(startMs + 0.2), endNs: ns(startMs + 0.2 + serverMs), durationNs: ns(serverMs),
    sockId: BigInt(recSeq), pid: b.pid, tid: b.pid, comm: c.to });
  out.push(...inner);
  return clientMs;
}

function order(slowPayment: boolean): Call {
  return { from: 'load', to: 'gateway', method: 'POST', endpoint: '/api/orders', selfMs: 0.3, status: 201, children: [
    { from: 'gateway', to: 'frontend', method: 'POST', endpoint: '/api/orders', selfMs: 0.5, status: 201, children: [
      { from: 'frontend', to: 'orders', method: 'POST', endpoint: '/orders', selfMs: 1, status: 201, children: [
        { from: 'orders', to: 'postgres', method: 'SELECT', endpoint: 'SELECT id, price_cents FROM products WHERE id = $1', selfMs: 0.8 },
        { from: 'orders', to: 'payment', method: 'POST', endpoint: '/charge', selfMs: slowPayment ? 180 : 4, status: 200 },
      ] },
    ] },
  ] };
}

function browse(): Call {
  return { from: 'load', to: 'gateway', method: 'GET', endpoint: '/api/products/{id}', selfMs: 0.2, children: [
    { from: 'gateway', to: 'frontend', method: 'GET', endpoint: '/api/products/{id}', selfMs: 0.6, children: [
      { from: 'frontend', to: 'postgres', method: 'SELECT', endpoint: 'SELECT * FROM products WHERE id = $1', selfMs: 0.7 },
    ] },
  ] };
}

/**
 * `seconds` of traffic ending now (wall clock): 2 orders and 3 product views a second; payment answers
 * in 4 ms, except in the last `slowS` seconds (180 ms: an incident whose root cause is payment).
 */
export function demoRequestRows(seconds = 60, slowS = 20): Row[] {
  const end = Date.now() - 2000;
  const recs: RequestRecord[] = [];
  for (let s = seconds; s > 0; s--) {
    const t = end - s * 1000;
    const slow = s <= slowS;
    for (let i = 0; i < 2; i++) emit(order(slow), t + i * 400, recs);
    for (let i = 0; i < 3; i++) emit(browse(), t + 100 + i * 300, recs);
  }
  linkRecords(recs);
  return recs.map((r) => requestToRow(r, 0n));
}

/** A TCP finding as the agent stores it (findingToRow's shape). */
export function demoFindingRow(): Row {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    ts_ns: now, id: 'tcp.nagle-delayed-ack:10.213.0.13:41000->10.213.0.14:8084', kind: 'tcp.nagle-delayed-ack', severity: 'warning',
    subject: '10.213.0.13:41000->10.213.0.14:8084 (orders[300])', summary: 'Nagle x delayed ACK: 40 ms stalls on small writes',
    data: { evidence: { ackDelayMs: 40.2, stalledWrites: 57, smallWriteBytes: 100 }, why: 'every request waits for the peer\'s delayed ACK', fix: 'set TCP_NODELAY on the socket', window: { startNs: (now - 5_000_000_000n).toString(), endNs: now.toString() } },
  };
}
