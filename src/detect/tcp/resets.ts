// Reset storms: many RSTs sent or received by one process/port in a window.
import type { Finding } from '../../model/finding.js';
import { makeFinding } from '../finding.js';
import { windowSeconds, type TcpWindow } from './window.js';

export const RESET_STORM_KIND = 'tcp.reset-storm';
const MIN_RESETS = 10;

export function diagnoseResetStorm(w: TcpWindow): Finding[] {
  const groups = new Map<string, { netns: number; port: number; pid: number; comm: string; sent: number; recv: number }>();
  for (const e of w.events) {
    if (e.kind !== 'reset-sent' && e.kind !== 'reset-received') continue;
    const key = `${e.netns}:${e.local.port}`;
    const g = groups.get(key) ?? { netns: e.netns, port: e.local.port, pid: e.pid, comm: e.comm, sent: 0, recv: 0 };
    if (e.kind === 'reset-sent') g.sent++;
    else g.recv++;
    groups.set(key, g);
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const total = g.sent + g.recv;
    if (total < MIN_RESETS) continue;
    out.push(
      makeFinding({
        kind: RESET_STORM_KIND,
        severity: 'warning',
        title: `${total} TCP resets on port ${g.port} (${g.sent} sent, ${g.recv} received)`,
        subject: { process: g.pid ? { pid: g.pid, comm: g.comm } : undefined, port: { netns: g.netns, port: g.port } },
        window: { startNs: w.startNs, endNs: w.endNs },
        evidence: { resetsSent: g.sent, resetsReceived: g.recv, resetsPerSec: Math.round((total / windowSeconds(w)) * 10) / 10 },
        why: 'Connections are being aborted rather than closed: requests in flight fail (ECONNRESET) and clients reconnect.',
        fix: g.sent >= g.recv
          ? 'This host sends the resets: a closed port, a process closing sockets with unread data, or SO_LINGER 0.'
          : 'The peer sends the resets: it is restarting, timing connections out, or a middlebox is cutting them.',
      }),
    );
  }
  return out;
}
