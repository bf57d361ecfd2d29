// Records of the kernel's view of TCP (bpf/tcp.bpf.c via src/collect/tcp-collector.ts). Plain data.
// Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns); counters are cumulative since the socket was
// first seen, so consumers work with the difference between two samples.
import type { Endpoint } from './flow.js';

export type TcpStateName =
  | 'ESTABLISHED' | 'SYN_SENT' | 'SYN_RECV' | 'FIN_WAIT1' | 'FIN_WAIT2' | 'TIME_WAIT' | 'CLOSE'
  | 'CLOSE_WAIT' | 'LAST_ACK' | 'LISTEN' | 'CLOSING' | 'NEW_SYN_RECV' | 'BOUND_INACTIVE' | 'UNKNOWN';

/** One read of a connection's entry in the kernel map. */
export interface TcpConnSample {
  tsNs: bigint; // when user space read it
  sockId: bigint; // socket cookie (or struct sock address before the kernel assigned one)
  skPtr: bigint;
  cookie: bigint;
  netns: number;
  pid: number;
  comm: string;
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
  role: 'client' | 'server' | 'unknown';
  state: TcpStateName;
  firstNs: bigint;
  lastNs: bigint;
  establishedNs: bigint; // 0n when unknown
  closedNs: bigint; // 0n while open
  connectLatencyNs: bigint; // SYN -> ESTABLISHED for active opens, else 0n

  srttUs: number;
  mdevUs: number; // rtt variance as the kernel keeps it (ss -ti shows it as the second rtt figure)
  rttMinUs: number;
  lastRttUs: number;
  rttSamples: number;
  rttSumUs: number;
  rttHist: number[]; // log2 µs buckets
  delackSamples: number; // RTT samples that look like a delayed ACK (see bpf/tcp.h)
  delackSumUs: number;
  delackMinUs: number;
  delackMaxUs: number;

  cwnd: number; // segments
  ssthresh: number;
  mss: number;
  caState: 'open' | 'disorder' | 'cwr' | 'recovery' | 'loss' | 'unknown';
  sndWnd: number; // bytes (peer's advertised window, scaled)
  sndWndMax: number; // the largest window the peer advertised on this connection
  rcvWnd: number; // bytes: the window we advertise (capped at 65535 << rcvWscale, as the header carries it)
  rcvWndWanted: number; // tcp_sock.rcv_wnd: what the buffer would allow; > rcvWnd when the scale is too small
  windowClamp: number;
  rcvSsthresh: number;
  rcvbuf: number;
  sndbuf: number;
  sndWscale: number;
  rcvWscale: number;
  wscaleOk: boolean;
  nodelay: boolean; // TCP_NODELAY set (Nagle off)

  packetsOut: number;
  retransOut: number;
  sackedOut: number;
  lostOut: number;
  totalRetrans: number;
  bytesInFlight: number; // derived: (packets_out - sacked - lost + retrans_out) * mss
  deliveryRateBps: number; // derived: bytes/s of the last rate sample (0 when none)
  delivered: number;
  bytesAcked: number;
  bytesReceived: number;
  segsOut: number;
  segsIn: number;

  retransEvents: number;
  rtoEvents: number;
  synRetrans: number;
  resetsSent: number;
  resetsRecv: number;
  handshakeFailed: number;
  drops: number;
  rcvqFull: number;
  zeroWndPeerEpisodes: number;
  zeroWndPeerNs: number; // total, including an episode still open at tsNs
  zeroWndLocalEpisodes: number;
  zeroWndLocalNs: number;

  writes: number;
  writeBytes: number;
  smallWrites: number;
  smallWritesUnacked: number;
  smallWritesNagle: number;
  smallWriteBytes: number;
}

/** One read of a listening socket's entry. */
export interface TcpListenerSample {
  tsNs: bigint;
  sockId: bigint;
  netns: number;
  pid: number;
  comm: string;
  family: 4 | 6;
  local: Endpoint;
  createdNs: bigint;
  closedNs: bigint;
  lastSampleNs: bigint;
  maxAckBacklog: number;
  ackBacklog: number;
  ackBacklogPeak: number;
  synQueue: number;
  synQueuePeak: number;
  skDrops: number; // every listen drop (SYN or final-ACK path): equals the ListenDrops this listener caused
  overflowDrops: number; // final ACKs dropped with reason TCP_LISTEN_OVERFLOW
  synackRetrans: number;
  accepted: number;
  rcvbuf: number;
  sndbuf: number;
}

export type TcpEventKind =
  | 'retransmit' | 'reset-sent' | 'reset-received' | 'state' | 'drop' | 'setsockopt' | 'rto'
  | 'synack-retransmit' | 'listen-overflow' | 'connected' | 'handshake-failed' | 'rcvqueue-full';

/** One ring-buffer event. */
export interface TcpEvent {
  tsNs: bigint;
  kind: TcpEventKind;
  sockId: bigint;
  skPtr: bigint;
  pid: number;
  tid: number;
  comm: string;
  netns: number;
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
  state: TcpStateName;
  oldState: TcpStateName;
  reason: number; // drop reason / reset reason / retransmit error
  reasonName: string; // drop reason name (kfree_skb tracepoint table) when kind is drop/listen-overflow
  level: number; // setsockopt
  optname: number;
  option: string; // 'SO_RCVBUF', 'TCP_NODELAY', ...
  optval: number;
  ret: number;
  srttUs: number;
  mdevUs: number;
  cwnd: number;
  mss: number;
  totalRetrans: number;
  sndWnd: number;
  rcvWnd: number;
  windowClamp: number;
  rcvSsthresh: number;
  rcvbuf: number;
  sndbuf: number;
  rcvbufAfter: number;
  sndbufAfter: number;
  rcvWscale: number;
  sndWscale: number;
  wscaleOk: boolean;
  nodelay: boolean;
  value: bigint; // connected: connect latency ns; listen-overflow: listener sk_drops
  listenerId: bigint;
  ustack: bigint[]; // user-space return addresses (setsockopt)
}
