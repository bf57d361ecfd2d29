// Ineffective SO_RCVBUF: the window scale is fixed at the handshake (chosen from the buffer the socket - or
// for an accepted socket, its listener - had then). A larger SO_RCVBUF set afterwards cannot be advertised:
// the window field is 16 bits, so the receive window stays below 65535 << rcv_wscale however large the
// buffer. Also flags a listener whose buffer is raised after connections were already accepted.
import type { Finding } from '../../model/finding.js';
import type { TcpEvent } from '../../model/tcp.js';
import { makeFinding, endpointText } from '../finding.js';
import { flowSubject, type TcpWindow } from './window.js';

export const SOCKBUF_KIND = 'tcp.rcvbuf-after-handshake';
export const LISTENER_SOCKBUF_KIND = 'tcp.listener-rcvbuf-too-late';
export const WSCALE_LIMIT_KIND = 'tcp.window-scale-limit';

/** The largest receive window a socket can advertise with its handshake's scale. */
export function maxAdvertisableWindow(wscaleOk: boolean, rcvWscale: number): number {
  return wscaleOk ? 65535 * 2 ** rcvWscale : 65535;
}

/** The smallest window scale that can express `bytes`. */
export function wscaleNeeded(bytes: number): number {
  let s = 0;
  while (s < 14 && 65535 * 2 ** s < bytes) s++;
  return s;
}

const isRcvbufSet = (e: TcpEvent): boolean =>
  e.kind === 'setsockopt' && (e.option === 'SO_RCVBUF' || e.option === 'SO_RCVBUFFORCE') && e.ret === 0 && e.optval > 0;

const HANDSHAKE_DONE = new Set(['SYN_RECV', 'ESTABLISHED', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK']);

/** User-space return addresses up to the first implausible one: the kernel walks frame pointers, so frames
 * past code built without them are garbage. */
function stackText(e: TcpEvent): string {
  const out: string[] = [];
  for (const a of e.ustack.slice(0, 6)) {
    if (a === 0n || a > 0x7fffffffffffn) break;
    out.push('0x' + a.toString(16));
  }
  return out.join(' ');
}

export function diagnoseIneffectiveRcvbuf(w: TcpWindow): Finding[] {
  const out: Finding[] = [];
  const flagged = new Set<bigint>();
  for (const e of w.events) {
    if (!isRcvbufSet(e)) continue;
    if (HANDSHAKE_DONE.has(e.state)) {
      const maxWnd = maxAdvertisableWindow(e.wscaleOk, e.rcvWscale);
      if (e.optval <= maxWnd) continue;
      flagged.add(e.sockId);
      const listener = w.listeners.find((l) => l.after.sockId === e.listenerId && e.listenerId !== 0n)?.after;
      const subject = {
        process: { pid: e.pid, comm: e.comm },
        flow: { netns: e.netns, sockId: e.sockId.toString(), local: e.local, remote: e.remote },
      };
      out.push(
        makeFinding({
          kind: SOCKBUF_KIND,
          severity: e.optval >= maxWnd * 4 ? 'critical' : 'warning',
          title: `SO_RCVBUF ${e.optval} set after the handshake on ${endpointText(e.local)}: window scale ` +
            `${e.rcvWscale} caps the receive window at ${maxWnd} bytes`,
          subject,
          window: { startNs: e.tsNs, endNs: e.tsNs },
          evidence: {
            requestedBytes: e.optval,
            rcvbufAfterBytes: e.rcvbufAfter,
            rcvbufBeforeBytes: e.rcvbuf,
            rcvWscale: e.rcvWscale,
            wscaleOk: e.wscaleOk,
            maxWindowBytes: maxWnd,
            effectiveWindowBytes: e.windowClamp > 0 ? Math.min(maxWnd, e.windowClamp) : maxWnd,
            wscaleNeeded: wscaleNeeded(e.optval),
            unusablePct: Math.round((1 - maxWnd / e.optval) * 100),
            windowClampBytes: e.windowClamp,
            stateAtCall: e.state,
            listenerPort: e.local.port,
            ...(listener ? { listenerRcvbufBytes: listener.rcvbuf } : {}),
            ...(stackText(e) ? { callerStack: stackText(e) } : {}),
          },
          why:
            `The window scale was negotiated at the handshake (${e.rcvWscale}, from the ` +
            `${e.listenerId ? "listener's" : "socket's"} buffer at that time) and never changes. With it the ` +
            `16-bit window field can advertise at most ${maxWnd} bytes, so ${e.optval - maxWnd} of the requested ` +
            `${e.optval} bytes can never be used as window: bulk transfers stay limited to ${maxWnd} bytes per RTT.`,
          fix:
            `Set SO_RCVBUF on the listening socket before listen() (accepted sockets inherit it and the handshake ` +
            `then picks scale ${wscaleNeeded(e.optval)}), or on a client socket before connect(); or leave it unset ` +
            `and let autotuning grow it (net.ipv4.tcp_rmem).`,
        }),
      );
    } else if (e.state === 'LISTEN') {
      const victims = w.conns
        .map((c) => c.after)
        .filter((s) => s.role === 'server' && s.netns === e.netns && s.local.port === e.local.port &&
          s.establishedNs !== 0n && s.establishedNs < e.tsNs && maxAdvertisableWindow(s.wscaleOk, s.rcvWscale) < e.optval);
      if (victims.length === 0) continue;
      out.push(
        makeFinding({
          kind: LISTENER_SOCKBUF_KIND,
          severity: 'warning',
          title: `SO_RCVBUF ${e.optval} set on listener :${e.local.port} after ${victims.length} connections were ` +
            `already accepted with a smaller window scale`,
          subject: { process: { pid: e.pid, comm: e.comm }, port: { netns: e.netns, port: e.local.port } },
          window: { startNs: e.tsNs, endNs: e.tsNs },
          evidence: {
            requestedBytes: e.optval,
            connectionsAlreadyAccepted: victims.length,
            theirRcvWscale: Math.max(...victims.map((v) => v.rcvWscale)),
            theirMaxWindowBytes: Math.max(...victims.map((v) => maxAdvertisableWindow(v.wscaleOk, v.rcvWscale))),
            wscaleNeeded: wscaleNeeded(e.optval),
          },
          why: 'Connections accepted before the call keep the window scale chosen from the old buffer; only new ' +
            'handshakes benefit.',
          fix: 'Set SO_RCVBUF on the listening socket before listen().',
        }),
      );
    }
  }
  // The same fault seen from the connection's state (also when the setsockopt happened before we attached):
  // the kernel wants to offer more window than the handshake's scale lets the header carry.
  for (const { after: s } of w.conns) {
    if (flagged.has(s.sockId) || s.state !== 'ESTABLISHED') continue;
    const maxWnd = maxAdvertisableWindow(s.wscaleOk, s.rcvWscale);
    if (s.rcvWndWanted <= maxWnd * 1.5) continue; // headroom: ordinary rounding is not a fault
    out.push(
      makeFinding({
        kind: WSCALE_LIMIT_KIND,
        severity: 'warning',
        title: `receive window of ${endpointText(s.local)} capped at ${maxWnd} bytes by window scale ${s.rcvWscale} ` +
          `(the buffer would allow ${s.rcvWndWanted})`,
        subject: flowSubject(s),
        window: { startNs: w.startNs, endNs: w.endNs },
        evidence: {
          wantedWindowBytes: s.rcvWndWanted,
          maxWindowBytes: maxWnd,
          rcvWscale: s.rcvWscale,
          wscaleOk: s.wscaleOk,
          wscaleNeeded: wscaleNeeded(s.rcvWndWanted),
          rcvbufBytes: s.rcvbuf,
          srttMs: Math.round(s.srttUs / 10) / 100,
          throughputCapBytesPerSec: s.srttUs > 0 ? Math.round(maxWnd / (s.srttUs / 1e6)) : 0,
        },
        why: `The window scale (${s.rcvWscale}) was fixed at the handshake from a smaller buffer; the receive buffer ` +
          `grew later but the 16-bit window field cannot announce more than ${maxWnd} bytes, so the sender is held to ` +
          `that much per round trip.`,
        fix: 'Size SO_RCVBUF before the handshake (on the listener before listen(), on a client before connect()), ' +
          'or do not set it and let autotuning choose the scale.',
      }),
    );
  }
  return out;
}
