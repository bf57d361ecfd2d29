// Listen-queue overflow: the accept queue of a listener was full, so the kernel dropped SYNs or final ACKs
// (ListenOverflows/ListenDrops). Clients see connect() stall for 1 s, 3 s, 7 s ... (SYN retransmits) or a
// connection that "hangs" after connect() returned.
import type { Finding } from '../../model/finding.js';
import { makeFinding, endpointText } from '../finding.js';
import { delta, windowSeconds, type TcpWindow } from './window.js';

export const LISTEN_OVERFLOW_KIND = 'tcp.listen-overflow';

export function diagnoseListenOverflow(w: TcpWindow): Finding[] {
  const out: Finding[] = [];
  for (const l of w.listeners) {
    const s = l.after;
    const drops = delta(l, (x) => x.skDrops);
    const ackDrops = delta(l, (x) => x.overflowDrops);
    if (drops === 0 && ackDrops === 0) continue;
    const accepted = delta(l, (x) => x.accepted);
    out.push(
      makeFinding({
        kind: LISTEN_OVERFLOW_KIND,
        severity: drops >= 10 ? 'critical' : 'warning',
        title: `accept queue of ${endpointText(s.local)} (${s.comm || 'pid ' + s.pid}) overflowed: ` +
          `${Math.max(drops, ackDrops)} connection attempts dropped, limit ${s.maxAckBacklog}`,
        subject: {
          process: s.pid ? { pid: s.pid, comm: s.comm } : undefined,
          port: { netns: s.netns, port: s.local.port },
        },
        window: { startNs: w.startNs, endNs: w.endNs },
        evidence: {
          listenDrops: drops,
          finalAckDrops: ackDrops,
          acceptQueueLimit: s.maxAckBacklog,
          acceptQueueDepth: s.ackBacklog,
          acceptQueuePeak: s.ackBacklogPeak,
          synQueuePeak: s.synQueuePeak,
          synackRetransmits: delta(l, (x) => x.synackRetrans),
          acceptedInWindow: accepted,
          dropsPerSec: Math.round((Math.max(drops, ackDrops) / windowSeconds(w)) * 10) / 10,
        },
        why:
          `The process is not calling accept() fast enough for the connection rate (queue limit ` +
          `${s.maxAckBacklog}, peak depth ${s.ackBacklogPeak}). Dropped SYNs are retried by clients after 1 s, ` +
          `3 s, 7 s..., so callers see connect latency jumps or timeouts while the server looks idle.`,
        fix:
          `Accept faster (more acceptor threads, non-blocking accept loop, SO_REUSEPORT with several listeners) ` +
          `and raise the backlog: listen(fd, N) with N large enough, and net.core.somaxconn >= N.`,
      }),
    );
  }
  return out;
}
