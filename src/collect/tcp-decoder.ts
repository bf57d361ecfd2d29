// Decodes bpf/tcp.h structs (tcp_conn, tcp_listener, tcp_event, tcp_drop_key) into src/model/tcp.ts records.
// Offsets come from the compiled object's BTF (StructLayout), looked up once per decoder; nothing is
// hard-coded here except the field names, which mirror bpf/tcp.h.
import { readFileSync } from 'node:fs';
import type { FieldLayout, StructLayout } from '../kernel/index.js';
import type { Endpoint } from '../model/flow.js';
import type {
  TcpConnSample, TcpEvent, TcpEventKind, TcpListenerSample, TcpStateName,
} from '../model/tcp.js';
import { formatAddrWords } from './ip-format.js';

const AF_INET6 = 10;

export const TCP_STATES: TcpStateName[] = [
  'UNKNOWN', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT',
  'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];
export const tcpStateName = (n: number): TcpStateName => TCP_STATES[n] ?? 'UNKNOWN';

/** enum tcp_event_kind, index = value. */
const EVENT_KINDS: (TcpEventKind | '')[] = [
  '', 'retransmit', 'reset-sent', 'reset-received', 'state', 'drop', 'setsockopt', 'rto', 'synack-retransmit',
  'listen-overflow', 'connected', 'handshake-failed', 'rcvqueue-full',
];

/** enum tcp_stat */
export const TcpStat = { events: 0, eventDrops: 1, connFull: 2, rttSamples: 3, eventsSuppressed: 4 } as const;

const CA_STATES = ['open', 'disorder', 'cwr', 'recovery', 'loss'] as const;

const SOCKOPT_NAMES: Record<string, string> = {
  '1:7': 'SO_SNDBUF', '1:8': 'SO_RCVBUF', '1:32': 'SO_SNDBUFFORCE', '1:33': 'SO_RCVBUFFORCE',
  '6:1': 'TCP_NODELAY', '6:3': 'TCP_CORK', '6:10': 'TCP_WINDOW_CLAMP', '6:12': 'TCP_QUICKACK',
};
export const sockoptName = (level: number, optname: number): string => SOCKOPT_NAMES[`${level}:${optname}`] ?? `${level}:${optname}`;

/** Drop-reason names from the kfree_skb tracepoint's own table (the enum values change between kernels). */
export function loadDropReasonNames(formatPath = '/sys/kernel/tracing/events/skb/kfree_skb/format'): Map<number, string> {
  const names = new Map<number, string>();
  try {
    const text = readFileSync(formatPath, 'utf8');
    for (const m of text.matchAll(/\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}/g)) names.set(Number(m[1]), m[2]!);
  } catch {
    /* tracefs not readable: numbers only */
  }
  return names;
}

/** Reads any scalar field; u64/s64 as bigint, the rest as number. */
function reader(layout: StructLayout, name: string): (b: Buffer, o: number) => number | bigint {
  const f: FieldLayout | undefined = layout.fields[name];
  if (!f) {
    throw new Error(`struct ${layout.name} has no field '${name}' (bpf/tcp.h and src/collect/tcp-decoder.ts disagree; ` +
      `struct has: ${Object.keys(layout.fields).join(', ')})`);
  }
  const off = f.offset;
  const signed = f.signed === true;
  switch (f.arrayLen ? 0 : f.size) {
    case 1: return signed ? (b, o) => b.readInt8(o + off) : (b, o) => b.readUInt8(o + off);
    case 2: return signed ? (b, o) => b.readInt16LE(o + off) : (b, o) => b.readUInt16LE(o + off);
    case 4: return signed ? (b, o) => b.readInt32LE(o + off) : (b, o) => b.readUInt32LE(o + off);
    case 8: return signed ? (b, o) => b.readBigInt64LE(o + off) : (b, o) => b.readBigUInt64LE(o + off);
    default: throw new Error(`struct ${layout.name}.${name}: not a scalar (${f.size} bytes)`);
  }
}

function arrayField(layout: StructLayout, name: string): FieldLayout {
  const f = layout.fields[name];
  if (!f || !f.arrayLen) throw new Error(`struct ${layout.name} has no array field '${name}'`);
  return f;
}

function readComm(b: Buffer, o: number, len: number): string {
  let end = o;
  while (end < o + len && b[end] !== 0) end++;
  return b.toString('latin1', o, end);
}

function readAddr(b: Buffer, o: number, family: number): string {
  if (family === AF_INET6) {
    return formatAddrWords(b.readUInt32BE(o), b.readUInt32BE(o + 4), b.readUInt32BE(o + 8), b.readUInt32BE(o + 12));
  }
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** Builds a record decoder: `num(name)` / `big(name)` readers resolved once from the layout. */
class Fields {
  private cache = new Map<string, (b: Buffer, o: number) => number | bigint>();
  constructor(readonly layout: StructLayout) {}
  private r(name: string) {
    let f = this.cache.get(name);
    if (!f) { f = reader(this.layout, name); this.cache.set(name, f); }
    return f;
  }
  num(b: Buffer, o: number, name: string): number { return Number(this.r(name)(b, o)); }
  big(b: Buffer, o: number, name: string): bigint { return BigInt(this.r(name)(b, o)); }
  comm(b: Buffer, o: number): string { const f = arrayField(this.layout, 'comm'); return readComm(b, o + f.offset, f.size); }
  addr(b: Buffer, o: number, name: 'laddr' | 'raddr', family: number): string {
    return readAddr(b, o + arrayField(this.layout, name).offset, family);
  }
  u32Array(b: Buffer, o: number, name: string): number[] {
    const f = arrayField(this.layout, name);
    const out: number[] = [];
    for (let i = 0; i < f.arrayLen!; i++) out.push(b.readUInt32LE(o + f.offset + i * 4));
    return out;
  }
  u64Array(b: Buffer, o: number, name: string, n: number): bigint[] {
    const f = arrayField(this.layout, name);
    const out: bigint[] = [];
    for (let i = 0; i < Math.min(n, f.arrayLen!); i++) out.push(b.readBigUInt64LE(o + f.offset + i * 8));
    return out;
  }
  /** Checks every listed field exists up front: a mismatch fails at startup, not on the first record. */
  require(names: string[]): void { for (const n of names) this.r(n); }
}

const endpoint = (ip: string, port: number): Endpoint => ({ ip, port });

export class TcpConnDecoder {
  private f: Fields;
  constructor(layout: StructLayout) {
    this.f = new Fields(layout);
    this.f.require(['sock_id', 'sk_ptr', 'cookie', 'srtt_us', 'mdev_us', 'rtt_min_us', 'snd_cwnd', 'rcv_wscale',
      'small_writes_nagle', 'delack_samples', 'zero_wnd_peer_since_ns']);
  }

  decode(b: Buffer, nowNs: bigint, o = 0): TcpConnSample {
    const f = this.f;
    const n = (name: string) => f.num(b, o, name);
    const big = (name: string) => f.big(b, o, name);
    const family = n('family');
    const mss = n('mss');
    const ongoing = (since: bigint) => (since > 0n && nowNs > since ? Number(nowNs - since) : 0);
    const role = n('role');
    const ca = n('ca_state');
    const nonagle = n('nonagle');
    const rateInterval = n('rate_interval_us');
    const wscaleOk = n('wscale_ok') !== 0;
    const rcvWndWanted = n('rcv_wnd');
    const maxAdvertisable = wscaleOk ? 65535 * 2 ** n('rcv_wscale') : 65535;
    const inFlightSegs = Math.max(0, n('packets_out') - (n('sacked_out') + n('lost_out')) + n('retrans_out'));
    return {
      tsNs: nowNs,
      sockId: big('sock_id'), skPtr: big('sk_ptr'), cookie: big('cookie'),
      netns: n('netns'), pid: n('pid'), comm: f.comm(b, o),
      family: family === AF_INET6 ? 6 : 4,
      local: endpoint(f.addr(b, o, 'laddr', family), n('lport')),
      remote: endpoint(f.addr(b, o, 'raddr', family), n('rport')),
      role: role === 1 ? 'client' : role === 2 ? 'server' : 'unknown',
      state: tcpStateName(n('state')),
      firstNs: big('first_ns'), lastNs: big('last_ns'), establishedNs: big('established_ns'),
      closedNs: big('closed_ns'), connectLatencyNs: big('connect_latency_ns'),
      srttUs: n('srtt_us'), mdevUs: n('mdev_us'), rttMinUs: n('rtt_min_us'), lastRttUs: n('last_mrtt_us'),
      rttSamples: n('rtt_samples'), rttSumUs: n('rtt_sum_us'), rttHist: f.u32Array(b, o, 'rtt_hist'),
      delackSamples: n('delack_samples'), delackSumUs: n('delack_sum_us'),
      delackMinUs: n('delack_min_us'), delackMaxUs: n('delack_max_us'),
      cwnd: n('snd_cwnd'), ssthresh: n('snd_ssthresh'), mss,
      caState: CA_STATES[ca] ?? 'unknown',
      sndWnd: n('snd_wnd'), sndWndMax: n('snd_wnd_max'), rcvWnd: Math.min(rcvWndWanted, maxAdvertisable), rcvWndWanted, windowClamp: n('window_clamp'), rcvSsthresh: n('rcv_ssthresh'),
      rcvbuf: n('rcvbuf'), sndbuf: n('sndbuf'), sndWscale: n('snd_wscale'), rcvWscale: n('rcv_wscale'),
      wscaleOk, nodelay: (nonagle & 1) !== 0,
      packetsOut: n('packets_out'), retransOut: n('retrans_out'), sackedOut: n('sacked_out'), lostOut: n('lost_out'),
      totalRetrans: n('total_retrans'),
      bytesInFlight: inFlightSegs * mss,
      deliveryRateBps: rateInterval > 0 ? Math.round((n('rate_delivered') * mss * 1e6) / rateInterval) : 0,
      delivered: n('delivered'), bytesAcked: n('bytes_acked'), bytesReceived: n('bytes_received'),
      segsOut: n('segs_out'), segsIn: n('segs_in'),
      retransEvents: n('retrans_events'), rtoEvents: n('rto_events'), synRetrans: n('syn_retrans'),
      resetsSent: n('resets_sent'), resetsRecv: n('resets_recv'), handshakeFailed: n('handshake_failed'),
      drops: n('drops'), rcvqFull: n('rcvq_full'),
      zeroWndPeerEpisodes: n('zero_wnd_peer_episodes'),
      zeroWndPeerNs: n('zero_wnd_peer_total_ns') + ongoing(big('zero_wnd_peer_since_ns')),
      zeroWndLocalEpisodes: n('zero_wnd_local_episodes'),
      zeroWndLocalNs: n('zero_wnd_local_total_ns') + ongoing(big('zero_wnd_local_since_ns')),
      writes: n('writes'), writeBytes: n('write_bytes'), smallWrites: n('small_writes'),
      smallWritesUnacked: n('small_writes_unacked'), smallWritesNagle: n('small_writes_nagle'),
      smallWriteBytes: n('small_write_bytes'),
    };
  }
}

export class TcpListenerDecoder {
  private f: Fields;
  constructor(layout: StructLayout) {
    this.f = new Fields(layout);
    this.f.require(['sock_id', 'sk_drops', 'overflow_drops', 'max_ack_backlog', 'ack_backlog_peak']);
  }

  decode(b: Buffer, nowNs: bigint, o = 0): TcpListenerSample {
    const f = this.f;
    const n = (name: string) => f.num(b, o, name);
    const family = n('family');
    return {
      tsNs: nowNs, sockId: f.big(b, o, 'sock_id'), netns: n('netns'), pid: n('pid'), comm: f.comm(b, o),
      family: family === AF_INET6 ? 6 : 4, local: endpoint(f.addr(b, o, 'laddr', family), n('lport')),
      createdNs: f.big(b, o, 'created_ns'), closedNs: f.big(b, o, 'closed_ns'), lastSampleNs: f.big(b, o, 'last_sample_ns'),
      maxAckBacklog: n('max_ack_backlog'), ackBacklog: n('ack_backlog'), ackBacklogPeak: n('ack_backlog_peak'),
      synQueue: n('syn_queue'), synQueuePeak: n('syn_queue_peak'), skDrops: n('sk_drops'),
      overflowDrops: n('overflow_drops'), synackRetrans: n('synack_retrans'), accepted: n('accepted'),
      rcvbuf: n('rcvbuf'), sndbuf: n('sndbuf'),
    };
  }
}

export interface TcpDropCount {
  sockId: bigint;
  reason: number;
  reasonName: string;
  pid: number;
  netns: number;
  lport: number;
  rport: number;
  count: number;
}

export class TcpDropKeyDecoder {
  private f: Fields;
  constructor(layout: StructLayout, private readonly reasons: Map<number, string>) {
    this.f = new Fields(layout);
  }
  decode(key: Buffer, value: Buffer): TcpDropCount {
    const n = (name: string) => this.f.num(key, 0, name);
    const reason = n('reason');
    return {
      sockId: this.f.big(key, 0, 'sock_id'), reason, reasonName: this.reasons.get(reason) ?? String(reason),
      pid: n('pid'), netns: n('netns'), lport: n('lport'), rport: n('rport'), count: Number(value.readBigUInt64LE(0)),
    };
  }
}

export class TcpEventDecoder {
  private f: Fields;
  constructor(layout: StructLayout, private readonly reasons: Map<number, string>) {
    this.f = new Fields(layout);
    this.f.require(['ts_ns', 'kind', 'sock_id', 'optval', 'rcvbuf_after', 'ustack_len', 'listener_id']);
  }

  decode(b: Buffer, o = 0): TcpEvent | undefined {
    const f = this.f;
    const n = (name: string) => f.num(b, o, name);
    const kind = EVENT_KINDS[n('kind')];
    if (!kind) return undefined;
    const family = n('family');
    const level = n('level');
    const optname = n('optname');
    const reason = n('reason');
    const isDrop = kind === 'drop' || kind === 'listen-overflow';
    return {
      tsNs: f.big(b, o, 'ts_ns'), kind, sockId: f.big(b, o, 'sock_id'), skPtr: f.big(b, o, 'sk_ptr'),
      pid: n('pid'), tid: n('tid'), comm: f.comm(b, o), netns: n('netns'),
      family: family === AF_INET6 ? 6 : 4,
      local: endpoint(f.addr(b, o, 'laddr', family), n('lport')),
      remote: endpoint(f.addr(b, o, 'raddr', family), n('rport')),
      state: tcpStateName(n('state')), oldState: tcpStateName(n('old_state')),
      reason, reasonName: isDrop ? this.reasons.get(reason) ?? String(reason) : '',
      level, optname, option: kind === 'setsockopt' ? sockoptName(level, optname) : '', optval: n('optval'), ret: n('ret'),
      srttUs: n('srtt_us'), mdevUs: n('mdev_us'), cwnd: n('snd_cwnd'), mss: n('mss'), totalRetrans: n('total_retrans'),
      sndWnd: n('snd_wnd'), rcvWnd: n('rcv_wnd'), windowClamp: n('window_clamp'), rcvSsthresh: n('rcv_ssthresh'),
      rcvbuf: n('rcvbuf'), sndbuf: n('sndbuf'), rcvbufAfter: n('rcvbuf_after'), sndbufAfter: n('sndbuf_after'),
      rcvWscale: n('rcv_wscale'), sndWscale: n('snd_wscale'), wscaleOk: n('wscale_ok') !== 0,
      nodelay: (n('nonagle') & 1) !== 0,
      value: f.big(b, o, 'value'), listenerId: f.big(b, o, 'listener_id'),
      ustack: f.u64Array(b, o, 'ustack', n('ustack_len')),
    };
  }
}
