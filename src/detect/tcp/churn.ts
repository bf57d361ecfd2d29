// Connection churn: a client opening and closing many short connections to the same server instead of
// reusing them (no keep-alive / pooling). Each one pays a handshake, slow start and a TIME_WAIT slot.
import type { Finding } from '../../model/finding.js';
import type { TcpConnSample } from '../../model/tcp.js';
import { makeFinding, round, endpointText } from '../finding.js';
import { windowSeconds, type TcpWindow } from './window.js';

export const CHURN_KIND = 'tcp.connection-churn';
const MIN_CONNECTIONS = 20;
const MIN_PER_SEC = 10;
const MAX_AVG_LIFETIME_MS = 1000;

export function diagnoseConnectionChurn(w: TcpWindow): Finding[] {
  const groups = new Map<string, TcpConnSample[]>();
  for (const { after: c } of w.conns) {
    if (c.role !== 'client' || c.closedNs === 0n || c.establishedNs === 0n) continue;
    if (c.closedNs < w.startNs || c.closedNs > w.endNs) continue;
    const key = `${c.netns}|${c.pid}|${c.remote.ip}|${c.remote.port}`;
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  const out: Finding[] = [];
  const secs = windowSeconds(w);
  for (const list of groups.values()) {
    const perSec = list.length / secs;
    if (list.length < MIN_CONNECTIONS || perSec < MIN_PER_SEC) continue;
    const lifetimes = list.map((c) => Number(c.closedNs - c.establishedNs) / 1e6);
    const avgLifetime = lifetimes.reduce((a, b) => a + b, 0) / lifetimes.length;
    if (avgLifetime > MAX_AVG_LIFETIME_MS) continue;
    const latencies = list.map((c) => Number(c.connectLatencyNs) / 1e6).filter((x) => x > 0);
    const avgConnect = latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0;
    const c0 = list[0]!;
    out.push(
      makeFinding({
        kind: CHURN_KIND,
        severity: 'warning',
        title: `${c0.comm || 'pid ' + c0.pid} opened ${list.length} short connections to ${endpointText(c0.remote)} ` +
          `(${round(perSec, 1)}/s, ${round(avgLifetime, 1)} ms each)`,
        subject: { process: c0.pid ? { pid: c0.pid, comm: c0.comm } : undefined, port: { netns: c0.netns, port: c0.remote.port } },
        window: { startNs: w.startNs, endNs: w.endNs },
        evidence: {
          connections: list.length,
          connectionsPerSec: round(perSec, 1),
          avgLifetimeMs: round(avgLifetime, 2),
          avgConnectLatencyMs: round(avgConnect, 3),
          handshakeSharePct: avgLifetime > 0 ? round((avgConnect / avgLifetime) * 100, 1) : 0,
          server: endpointText(c0.remote),
        },
        why: 'Every new connection costs a handshake round trip, restarts slow start and leaves a TIME_WAIT entry; ' +
          'at this rate that is latency on every call and a risk of ephemeral-port exhaustion.',
        fix: 'Reuse connections: HTTP keep-alive / a connection pool in the client, and keep-alive enabled on the server.',
      }),
    );
  }
  return out;
}
