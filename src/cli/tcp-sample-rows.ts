// Periodic TCP samples as `tcp_samples` rows: a connection's TCP life over time for the connection view
// (smoothed RTT and its variance, cwnd, both windows, retransmits, RTOs, drops), read from the TCP
// collector's table the agent reads each tick anyway. A connection gets a row at most once per period, and
// only when something moved (data, state, retransmits, drops), so idle keep-alive connections cost nothing;
// a state change (e.g. the close) is written at once. When a tick has more due connections than the cap,
// the ones with new retransmits or drops go first, then state changes (new connections included), then the
// longest unsampled.
import { flowIdOf } from '../correlate/requests.js';
import type { TcpDropCount } from '../collect/tcp-decoder.js';
import type { TcpConnSample } from '../model/tcp.js';
import type { Row } from '../store/types.js';

interface Seen {
  atNs: bigint; // when the last row was written
  lastNs: bigint; // the connection's last activity then
  state: string;
  retrans: number;
  drops: number;
}

export class TcpSampleRows {
  private readonly seen = new Map<bigint, Seen>();

  constructor(
    private readonly periodNs = 1_000_000_000n,
    private readonly maxPerTick = 2000,
  ) {}

  /** Rows for this tick's table read (`conns`, read at monotonic `nowNs`); wall clock = mono + offset.
   *  `readDrops`: the kernel's drop counts per socket and reason, read only when a row has drops to name. */
  rows(conns: readonly TcpConnSample[], nowNs: bigint, monoToWallNs: bigint, readDrops: () => readonly TcpDropCount[] = () => []): Row[] {
    const due: { c: TcpConnSample; rank: number; waitedNs: bigint }[] = [];
    const present = new Set<bigint>();
    for (const c of conns) {
      present.add(c.sockId);
      const prev = this.seen.get(c.sockId);
      const stateChanged = !prev || prev.state !== c.state;
      const troubled = !!prev && (c.totalRetrans !== prev.retrans || c.drops !== prev.drops);
      const moved = !prev || c.lastNs !== prev.lastNs || troubled;
      if (!stateChanged && !(moved && nowNs - prev!.atNs >= this.periodNs)) continue;
      due.push({ c, rank: troubled ? 0 : stateChanged ? 1 : 2, waitedNs: prev ? nowNs - prev.atNs : nowNs });
    }
    // connections the collector no longer lists (closed and pruned) are forgotten
    for (const k of this.seen.keys()) if (!present.has(k)) this.seen.delete(k);
    due.sort((a, b) => a.rank - b.rank || (a.waitedNs > b.waitedNs ? -1 : a.waitedNs < b.waitedNs ? 1 : 0));
    const chosen = due.slice(0, this.maxPerTick);
    const reasons = new Map<bigint, Record<string, number>>();
    if (chosen.some(({ c }) => c.drops > 0)) {
      for (const d of readDrops()) {
        const r = reasons.get(d.sockId) ?? reasons.set(d.sockId, {}).get(d.sockId)!;
        r[d.reasonName] = (r[d.reasonName] ?? 0) + d.count;
      }
    }
    return chosen.map(({ c }) => {
      this.seen.set(c.sockId, { atNs: nowNs, lastNs: c.lastNs, state: c.state, retrans: c.totalRetrans, drops: c.drops });
      return tcpSampleToRow(c, monoToWallNs, reasons.get(c.sockId));
    });
  }
}

/** One connection's TCP state as a `tcp_samples` row (`data`: the windows, queues and event counters). */
export function tcpSampleToRow(c: TcpConnSample, monoToWallNs: bigint, dropReasons?: Record<string, number>): Row {
  const [client, server] = c.role === 'server' ? [c.remote, c.local] : [c.local, c.remote];
  return {
    ts_ns: c.tsNs + monoToWallNs,
    flow_id: flowIdOf('tcp', c.netns, client, server),
    cookie: c.cookie || c.sockId,
    state: c.state,
    srtt_us: c.srttUs,
    rttvar_us: c.mdevUs,
    snd_cwnd: c.cwnd,
    retrans: c.totalRetrans,
    lost: c.lostOut,
    data: {
      role: c.role,
      pid: c.pid,
      comm: c.comm,
      local: `${c.local.ip}:${c.local.port}`,
      remote: `${c.remote.ip}:${c.remote.port}`,
      minRttUs: c.rttMinUs,
      ssthresh: c.ssthresh,
      mss: c.mss,
      caState: c.caState,
      sndWnd: c.sndWnd,
      rcvWnd: c.rcvWnd,
      rcvWndWanted: c.rcvWndWanted,
      sndWscale: c.sndWscale,
      rcvWscale: c.rcvWscale,
      bytesInFlight: c.bytesInFlight,
      deliveryRateBps: c.deliveryRateBps,
      bytesAcked: c.bytesAcked,
      bytesReceived: c.bytesReceived,
      segsOut: c.segsOut,
      segsIn: c.segsIn,
      rtoEvents: c.rtoEvents,
      drops: c.drops,
      ...(dropReasons ? { dropReasons } : {}),
      resetsSent: c.resetsSent,
      resetsRecv: c.resetsRecv,
      zeroWndPeerNs: Number(c.zeroWndPeerNs),
      zeroWndLocalNs: Number(c.zeroWndLocalNs),
    },
  };
}
