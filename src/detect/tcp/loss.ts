// Loss-driven stalls: retransmission storms, retransmission timeouts (RTO) and SYN timeouts.
import type { Finding } from '../../model/finding.js';
import type { TcpEvent } from '../../model/tcp.js';
import { makeFinding, msFromUs, round, endpointText } from '../finding.js';
import { delta, flowSubject, type TcpWindow } from './window.js';

export const RETRANS_STORM_KIND = 'tcp.retransmission-storm';
export const RTO_KIND = 'tcp.rto-stall';
export const SYN_TIMEOUT_KIND = 'tcp.syn-timeout';

const MIN_RETRANS = 5;
const MIN_RETRANS_RATIO = 0.01; // 1 % loss already cuts a Reno/CUBIC flow's throughput several-fold

function dropReasons(events: TcpEvent[], sockId: bigint): string {
  const counts = new Map<string, number>();
  for (const e of events) {
    if ((e.kind === 'drop' || e.kind === 'listen-overflow') && e.sockId === sockId) {
      counts.set(e.reasonName, (counts.get(e.reasonName) ?? 0) + 1);
    }
  }
  return [...counts].map(([r, n]) => `${r}:${n}`).join(' ');
}

export function diagnoseRetransmissionStorm(w: TcpWindow): Finding[] {
  const out: Finding[] = [];
  for (const c of w.conns) {
    const s = c.after;
    const retrans = delta(c, (x) => x.totalRetrans);
    const segs = delta(c, (x) => x.segsOut);
    if (retrans < MIN_RETRANS || segs === 0 || retrans / segs < MIN_RETRANS_RATIO) continue;
    const pct = (retrans / segs) * 100;
    const reasons = dropReasons(w.events, s.sockId);
    out.push(
      makeFinding({
        kind: RETRANS_STORM_KIND,
        severity: pct >= 5 ? 'critical' : 'warning',
        title: `${round(pct, 1)}% of segments retransmitted on ${endpointText(s.local)} -> ${endpointText(s.remote)} ` +
          `(${retrans} of ${segs})`,
        subject: flowSubject(s),
        window: { startNs: w.startNs, endNs: w.endNs },
        evidence: {
          retransmits: retrans,
          segmentsOut: segs,
          retransPct: round(pct, 2),
          rtoEvents: delta(c, (x) => x.rtoEvents),
          lostSegments: s.lostOut,
          cwndSegments: s.cwnd,
          ssthreshSegments: s.ssthresh,
          congestionState: s.caState,
          srttMs: msFromUs(s.srttUs),
          rttMinMs: msFromUs(s.rttMinUs),
          ...(reasons ? { localDropReasons: reasons } : {}),
        },
        why: `Lost segments are resent and the congestion window is cut (now ${s.cwnd} segments), so throughput ` +
          `drops and latency rises by at least one RTT per loss; timeouts cost ${RTO_MIN_MS} ms or more each.`,
        fix: 'Find where packets are lost: interface errors and drops (ip -s link, ethtool -S), qdisc/policer ' +
          'drops (tc -s qdisc), an overloaded middlebox or link, or an MTU black hole (DF segments dropped). ' +
          (reasons ? `This host dropped some itself: ${reasons}.` : ''),
      }),
    );
  }
  return out;
}

const RTO_MIN_MS = 200;

export function diagnoseRtoStalls(w: TcpWindow): Finding[] {
  const out: Finding[] = [];
  for (const c of w.conns) {
    const s = c.after;
    const rtos = delta(c, (x) => x.rtoEvents);
    const synRetrans = delta(c, (x) => x.synRetrans);
    if (synRetrans > 0) {
      const failed = delta(c, (x) => x.handshakeFailed);
      out.push(
        makeFinding({
          kind: SYN_TIMEOUT_KIND,
          severity: failed > 0 ? 'critical' : 'warning',
          title: `SYN to ${endpointText(s.remote)} retransmitted ${synRetrans}× (connect took ` +
            `${s.connectLatencyNs ? round(Number(s.connectLatencyNs) / 1e6, 1) + ' ms' : 'longer than the window'})`,
          subject: flowSubject(s),
          window: { startNs: w.startNs, endNs: w.endNs },
          evidence: {
            synRetransmits: synRetrans,
            handshakeFailed: failed,
            connectLatencyMs: round(Number(s.connectLatencyNs) / 1e6, 1),
            state: s.state,
          },
          why: 'The server did not answer the SYN: the first retry waits 1 s, then 2 s, 4 s..., so the caller ' +
            'sees connect() take seconds or time out.',
          fix: 'Check that the server is up and its accept queue is not overflowing (tcp.listen-overflow), and ' +
            'that no firewall drops SYNs on the path.',
        }),
      );
    }
    if (rtos === 0 || s.state === 'SYN_SENT') continue;
    const rtoMs = Math.max(RTO_MIN_MS, (s.srttUs + 4 * s.mdevUs) / 1000);
    out.push(
      makeFinding({
        kind: RTO_KIND,
        severity: rtos >= 3 ? 'critical' : 'warning',
        title: `${rtos} retransmission timeout(s) on ${endpointText(s.local)} -> ${endpointText(s.remote)}: ` +
          `the flow stalled ≥ ${round(rtos * rtoMs, 0)} ms`,
        subject: flowSubject(s),
        window: { startNs: w.startNs, endNs: w.endNs },
        evidence: {
          rtoEvents: rtos,
          estimatedStallMs: round(rtos * rtoMs, 0),
          retransmits: delta(c, (x) => x.totalRetrans),
          srttMs: msFromUs(s.srttUs),
          rttVarMs: msFromUs(s.mdevUs),
          rttMinMs: msFromUs(s.rttMinUs),
          cwndSegments: s.cwnd,
        },
        why: 'A retransmission timeout means no ACK came back for a whole RTO (≥ 200 ms): the connection sent ' +
          'nothing useful meanwhile and restarts from a congestion window of 1 segment.',
        fix: 'Find the loss (see tcp.retransmission-storm); for tail losses on short request/response flows, ' +
          'make sure SACK/TLP are not disabled (net.ipv4.tcp_sack, tcp_early_retrans).',
      }),
    );
  }
  return out;
}
