// Nagle × delayed ACK: a sender with Nagle on (no TCP_NODELAY) issues a sub-MSS write while earlier data is
// unacknowledged, so the kernel holds it until an ACK arrives; the peer, with nothing to send yet (it waits
// for the rest of the request), delays that ACK (~40 ms on Linux). Every exchange then costs one
// delayed-ACK timeout instead of one round trip.
// Seen from the sender: RTT samples far above the path's min RTT, in the delayed-ACK band, on a connection
// that makes sub-MSS writes with data in flight and Nagle on.
import type { Finding } from '../../model/finding.js';
import { makeFinding, msFromUs, round, endpointText } from '../finding.js';
import { delta, flowSubject, windowSeconds, type TcpWindow } from './window.js';

export const NAGLE_KIND = 'tcp.nagle-delayed-ack';
const MIN_HELD_WRITES = 3;
const MIN_DELAYED_ACKS = 3;

export function diagnoseNagleDelayedAck(w: TcpWindow): Finding[] {
  const out: Finding[] = [];
  const secs = windowSeconds(w);
  for (const c of w.conns) {
    const s = c.after;
    if (s.nodelay) continue;
    const held = delta(c, (x) => x.smallWritesNagle);
    const delayed = delta(c, (x) => x.delackSamples);
    if (held < MIN_HELD_WRITES || delayed < MIN_DELAYED_ACKS) continue;
    // Most stalls must coincide with held writes; a few slow ACKs on a bulk flow are something else.
    if (delayed < held * 0.25) continue;
    const ackDelayUs = delta(c, (x) => x.delackSumUs) / delayed;
    const minRttUs = s.rttMinUs;
    const smallWrites = delta(c, (x) => x.smallWrites);
    const smallBytes = delta(c, (x) => x.smallWriteBytes);
    const lostUs = delayed * Math.max(ackDelayUs - minRttUs, 0);
    const lostPct = Math.min(100, (lostUs / 1e6 / secs) * 100);
    const capBps = s.mss > 0 ? s.mss / (ackDelayUs / 1e6) : 0;
    out.push(
      makeFinding({
        kind: NAGLE_KIND,
        severity: lostPct >= 30 ? 'critical' : 'warning',
        title: `Nagle × delayed ACK on ${endpointText(s.local)} -> ${endpointText(s.remote)}: ` +
          `${delayed} exchanges waited ${msFromUs(ackDelayUs)} ms for an ACK (path RTT ${msFromUs(minRttUs)} ms)`,
        subject: flowSubject(s),
        window: { startNs: w.startNs, endNs: w.endNs },
        evidence: {
          ackDelayMs: msFromUs(ackDelayUs),
          ackDelayMaxMs: msFromUs(s.delackMaxUs),
          pathMinRttMs: msFromUs(minRttUs),
          srttMs: msFromUs(s.srttUs),
          delayedAcks: delayed,
          heldSmallWrites: held,
          smallWrites,
          avgSmallWriteBytes: smallWrites > 0 ? Math.round(smallBytes / smallWrites) : 0,
          mssBytes: s.mss,
          nodelay: s.nodelay,
          timeLostMs: round(lostUs / 1000, 1),
          timeLostPct: round(lostPct, 1),
          throughputCapBytesPerSec: Math.round(capBps),
          observedBytesPerSec: Math.round(delta(c, (x) => x.bytesAcked) / secs),
        },
        why:
          `The process writes a message in several sub-MSS pieces without TCP_NODELAY. Nagle holds each later ` +
          `piece until the earlier one is ACKed, and the peer delays that ACK (~${msFromUs(ackDelayUs)} ms) because ` +
          `it has no reply to send yet. Each request pays that delay instead of a ${msFromUs(minRttUs)} ms round ` +
          `trip: ${round(lostPct, 0)}% of this window was spent waiting.`,
        fix:
          `Set TCP_NODELAY on the sending socket (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, 1)) in ` +
          `${s.comm || 'the sender'}, or build each message in one buffer / writev() so it leaves in one write. ` +
          `On the peer, TCP_QUICKACK after each read also avoids the delay.`,
      }),
    );
  }
  return out;
}
