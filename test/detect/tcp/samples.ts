// Builders of TCP records for the diagnoser unit tests: a quiet healthy connection, changed per test.
import type { TcpConnSample, TcpEvent, TcpListenerSample } from '../../../src/model/tcp.js';
import type { TcpWindow } from '../../../src/detect/tcp/window.js';

export const SEC = 1_000_000_000n;

export function conn(over: Partial<TcpConnSample> = {}): TcpConnSample {
  return {
    tsNs: 10n * SEC, sockId: 42n, skPtr: 0xffff0000n, cookie: 42n, netns: 4026531840, pid: 1234, comm: 'client',
    family: 4, local: { ip: '10.0.0.1', port: 40000 }, remote: { ip: '10.0.0.2', port: 8080 },
    role: 'client', state: 'ESTABLISHED', firstNs: SEC, lastNs: 10n * SEC, establishedNs: SEC, closedNs: 0n,
    connectLatencyNs: 100_000n,
    srttUs: 60, mdevUs: 20, rttMinUs: 50, lastRttUs: 60, rttSamples: 100, rttSumUs: 6000, rttHist: new Array(24).fill(0),
    delackSamples: 0, delackSumUs: 0, delackMinUs: 0, delackMaxUs: 0,
    cwnd: 10, ssthresh: 2147483647, mss: 1448, caState: 'open', sndWnd: 64000, sndWndMax: 64000, rcvWnd: 64000, rcvWndWanted: 64000, windowClamp: 3_000_000,
    rcvSsthresh: 64000, rcvbuf: 131072, sndbuf: 16384, sndWscale: 7, rcvWscale: 7, wscaleOk: true, nodelay: false,
    packetsOut: 0, retransOut: 0, sackedOut: 0, lostOut: 0, totalRetrans: 0, bytesInFlight: 0, deliveryRateBps: 0,
    delivered: 100, bytesAcked: 10000, bytesReceived: 10000, segsOut: 100, segsIn: 100,
    retransEvents: 0, rtoEvents: 0, synRetrans: 0, resetsSent: 0, resetsRecv: 0, handshakeFailed: 0, drops: 0, rcvqFull: 0,
    zeroWndPeerEpisodes: 0, zeroWndPeerNs: 0, zeroWndLocalEpisodes: 0, zeroWndLocalNs: 0,
    writes: 100, writeBytes: 10000, smallWrites: 100, smallWritesUnacked: 0, smallWritesNagle: 0, smallWriteBytes: 10000,
    ...over,
  };
}

export function listener(over: Partial<TcpListenerSample> = {}): TcpListenerSample {
  return {
    tsNs: 10n * SEC, sockId: 7n, netns: 4026531840, pid: 99, comm: 'server', family: 4,
    local: { ip: '0.0.0.0', port: 8080 }, createdNs: SEC, closedNs: 0n, lastSampleNs: 9n * SEC,
    maxAckBacklog: 128, ackBacklog: 0, ackBacklogPeak: 3, synQueue: 0, synQueuePeak: 1, skDrops: 0, overflowDrops: 0,
    synackRetrans: 0, accepted: 50, rcvbuf: 131072, sndbuf: 16384,
    ...over,
  };
}

export function event(over: Partial<TcpEvent> = {}): TcpEvent {
  return {
    tsNs: 5n * SEC, kind: 'setsockopt', sockId: 43n, skPtr: 0xffff1000n, pid: 99, tid: 99, comm: 'server',
    netns: 4026531840, family: 4, local: { ip: '10.0.0.2', port: 8080 }, remote: { ip: '10.0.0.1', port: 40000 },
    state: 'ESTABLISHED', oldState: 'UNKNOWN', reason: 0, reasonName: '', level: 1, optname: 8, option: 'SO_RCVBUF',
    optval: 524288, ret: 0, srttUs: 0, mdevUs: 0, cwnd: 10, mss: 1448, totalRetrans: 0, sndWnd: 64000, rcvWnd: 16000,
    windowClamp: 16000, rcvSsthresh: 16000, rcvbuf: 16384, sndbuf: 16384, rcvbufAfter: 1048576, sndbufAfter: 16384,
    rcvWscale: 0, sndWscale: 7, wscaleOk: true, nodelay: false, value: 0n, listenerId: 7n, ustack: [0x401234n],
    ...over,
  };
}

/** A 1 s window over one connection that moved from `before` to `after`. */
export function connWindow(before: TcpConnSample, after: TcpConnSample, events: TcpEvent[] = []): TcpWindow {
  return { startNs: before.tsNs, endNs: after.tsNs, conns: [{ before, after }], listeners: [], events };
}
