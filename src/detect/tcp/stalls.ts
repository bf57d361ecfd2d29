// Flow-control stalls: a zero receive window, on either side, for a noticeable time.
import type { Finding } from '../../model/finding.js';
import { makeFinding, round, endpointText } from '../finding.js';
import { delta, flowSubject, windowSeconds, type TcpWindow } from './window.js';

export const ZERO_WINDOW_PEER_KIND = 'tcp.zero-window-peer';
export const ZERO_WINDOW_LOCAL_KIND = 'tcp.zero-window-local';
const MIN_STALL_MS = 100;

export function diagnoseZeroWindow(w: TcpWindow): Finding[] {
  const out: Finding[] = [];
  const secs = windowSeconds(w);
  for (const c of w.conns) {
    const s = c.after;
    const peerMs = delta(c, (x) => x.zeroWndPeerNs) / 1e6;
    const localMs = delta(c, (x) => x.zeroWndLocalNs) / 1e6;
    if (peerMs >= MIN_STALL_MS) {
      out.push(
        makeFinding({
          kind: ZERO_WINDOW_PEER_KIND,
          severity: peerMs / 1000 / secs >= 0.5 ? 'critical' : 'warning',
          title: `${endpointText(s.remote)} advertised a zero window for ${round(peerMs, 0)} ms: ` +
            `${s.comm || 'the sender'} could not send`,
          subject: flowSubject(s),
          window: { startNs: w.startNs, endNs: w.endNs },
          evidence: {
            stalledMs: round(peerMs, 1),
            stalledPct: round((peerMs / 1000 / secs) * 100, 1),
            episodes: delta(c, (x) => x.zeroWndPeerEpisodes),
            peerWindowBytes: s.sndWnd,
            bytesInFlight: s.bytesInFlight,
          },
          why: 'The receiving application does not read fast enough; its socket buffer is full and the sender ' +
            'must wait (zero-window probes) - the slowness is in the peer process, not the network.',
          fix: `Look at the process reading on ${endpointText(s.remote)}: it is blocked or too slow; a larger ` +
            'receive buffer only delays the stall.',
        }),
      );
    }
    if (localMs >= MIN_STALL_MS) {
      out.push(
        makeFinding({
          kind: ZERO_WINDOW_LOCAL_KIND,
          severity: localMs / 1000 / secs >= 0.5 ? 'critical' : 'warning',
          title: `${s.comm || 'pid ' + s.pid} read too slowly on ${endpointText(s.local)}: zero window for ` +
            `${round(localMs, 0)} ms`,
          subject: flowSubject(s),
          window: { startNs: w.startNs, endNs: w.endNs },
          evidence: {
            stalledMs: round(localMs, 1),
            stalledPct: round((localMs / 1000 / secs) * 100, 1),
            episodes: delta(c, (x) => x.zeroWndLocalEpisodes),
            rcvbufBytes: s.rcvbuf,
            receiveQueueFullDrops: delta(c, (x) => x.rcvqFull),
          },
          why: 'This process leaves data in its receive buffer; the buffer filled and the kernel told the peer ' +
            'to stop sending.',
          fix: `Find why ${s.comm || 'the process'} does not read (blocked thread, CPU saturation, slow ` +
            'downstream call) - see its sched/IO latency.',
        }),
      );
    }
  }
  return out;
}
