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
