// A realistic synthetic socket-record stream for the decode/fold benchmark: many concurrent TCP
// connections (IPv4 and IPv6, some with both ends local, some inbound or outbound only) doing
// request/response exchanges in both directions with payload heads of varied length, plus DNS-like UDP,
// connection churn (connect/accept/close) and a few errors (no EAGAIN: the probe drops those in the kernel). Deterministic (seeded).
import { join } from 'node:path';
import { BpfObject } from '../../src/kernel/index.js';
import { sockLayoutFrom, type SockLayout } from '../../src/collect/sock-decoder.js';
import { encodeSockBatch, type SockBatch, type SyntheticSockRecord } from '../../src/collect/sock-encoder.js';
import { seededRandom } from '../../src/util/random.js';

export const SOCK_OBJECT_PATH = join(import.meta.dirname, '..', '..', 'bpf', '.output', 'sock.bpf.o');

/** The record layout of the compiled probe, read from its BTF exactly as the collector does. */
export function compiledSockLayout(path = SOCK_OBJECT_PATH): SockLayout {
  const obj = BpfObject.open(path);
  try {
    const st = obj.structLayout('sock_event');
    return sockLayoutFrom(st.size, (n) => st.fields[n]);
  } finally {
    obj.close();
  }
}


const ECONNREFUSED = 111;
const ECONNRESET = 104;
const NETNS = 4026531840;
const PAYLOAD_MAX = 512; // the collector's default capture size

interface Side { ip: string; port: number; pid: number; comm: string; sock: bigint; local: boolean }

export interface WorkloadOptions {
  records: number; // total records to generate
  concurrency: number; // connections alive at once
  seed: number;
  maxExchanges?: number; // request/response pairs per TCP connection: uniform in 1..this (default 20)
}

export interface WorkloadSummary {
  records: number; connections: number; udpFlows: number; ipv6Share: number; bothEndsLocalShare: number;
  avgPayload: number; payloadHeads: number; errors: number;
}

/** Generates the record stream (plain objects; encode with encodeSockBatch). */
export function generateRecords(o: WorkloadOptions): { records: SyntheticSockRecord[]; summary: WorkloadSummary } {
  const rnd = seededRandom(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const out: SyntheticSockRecord[] = [];
  let ts = 1_000_000_000n;
  let nextSock = 0xffff888100000000n;
  let nextPort = 32768;
  let conns = 0;
  let udp = 0;
  let v6 = 0;
  let both = 0;
  let errors = 0;
  let payloadBytes = 0;
  let payloadHeads = 0;
  const services = [
    { port: 80, comm: 'nginx', pid: 2101 }, { port: 8080, comm: 'node', pid: 2202 },
    { port: 5432, comm: 'postgres', pid: 2303 }, { port: 6379, comm: 'redis-server', pid: 2404 },
    { port: 443, comm: 'envoy', pid: 2505 },
  ];
  const clients = [{ comm: 'wrk', pid: 3101 }, { comm: 'python3', pid: 3202 }, { comm: 'java', pid: 3303 }, { comm: 'curl', pid: 3404 }];
  const text = Buffer.from('GET /api/v1/orders/12345?expand=items HTTP/1.1\r\nHost: orders.svc:8080\r\nUser-Agent: Go-http-client/1.1\r\n' +
    'Accept: application/json\r\nX-Request-Id: 3f1c2a9e-1b7d-4c1e-9a0f-3a5e6d7c8b9a\r\n\r\n'.repeat(8));
  const head = (len: number) => {
    const n = Math.min(len, PAYLOAD_MAX);
    payloadBytes += n;
    payloadHeads++;
    return text.subarray(0, n);
  };

  // Each connection is a generator of records; a pool of `concurrency` of them is interleaved.
  function* tcpConn(): Generator<SyntheticSockRecord> {
    conns++;
    const fam: 4 | 6 = rnd() < 0.25 ? 6 : 4;
    if (fam === 6) v6++;
    const svc = pick(services);
    const cli = pick(clients);
    const locality = rnd(); // <0.4: both ends local, <0.7: outbound only, else inbound only
    if (locality < 0.4) both++;
    const port = (nextPort = nextPort >= 60999 ? 32768 : nextPort + 1);
    const cip = fam === 4 ? `10.1.${int(0, 255)}.${int(1, 254)}` : `fd00:1::${int(1, 0xffff).toString(16)}`;
    const sip = fam === 4 ? `10.2.0.${int(1, 20)}` : `fd00:2::${int(1, 20).toString(16)}`;
    const c: Side = { ip: cip, port, pid: cli.pid, comm: cli.comm, sock: nextSock++, local: locality < 0.7 };
    const s: Side = { ip: sip, port: svc.port, pid: svc.pid, comm: svc.comm, sock: nextSock++, local: locality < 0.4 || locality >= 0.7 };
    const rec = (side: Side, peer: Side, r: Partial<SyntheticSockRecord> & Pick<SyntheticSockRecord, 'kind' | 'syscall' | 'dir' | 'ret'>): SyntheticSockRecord => ({
      tsNs: (ts += 1000n), pid: side.pid, tid: side.pid, comm: side.comm, netns: NETNS, sockId: side.sock, proto: 'tcp', family: fam,
      local: { ip: side.ip, port: side.port }, remote: { ip: peer.ip, port: peer.port }, role: side === c ? 'client' : 'server', ...r,
    });
    if (c.local) {
      if (rnd() < 0.01) { // refused: one record, the flow ends with an error
        errors++;
        yield rec(c, s, { kind: 'connect', syscall: 'connect', dir: 'none', ret: -ECONNREFUSED });
        yield rec(c, s, { kind: 'close', syscall: 'close', dir: 'none', ret: 0 });
        return;
      }
      yield rec(c, s, { kind: 'connect', syscall: 'connect', dir: 'none', ret: rnd() < 0.5 ? -115 : 0 });
    }
    if (s.local) yield rec(s, c, { kind: 'accept', syscall: 'accept4', dir: 'none', ret: int(5, 900) });
    const exchanges = int(1, o.maxExchanges ?? 20);
    for (let i = 0; i < exchanges; i++) {
      const req = int(40, 900);
      const resp = rnd() < 0.7 ? int(60, 1500) : int(1500, 64_000);
      if (c.local) yield rec(c, s, { kind: 'data', syscall: pick(['write', 'sendto', 'writev', 'sendmsg']), dir: 'send', ret: req, payload: head(req) });
      if (s.local) {
        yield rec(s, c, { kind: 'data', syscall: pick(['read', 'recvfrom', 'readv']), dir: 'recv', ret: req, payload: head(req) });
        yield rec(s, c, { kind: 'data', syscall: pick(['write', 'writev', 'sendmsg', 'sendfile']), dir: 'send', ret: resp, payload: head(resp) });
      }
      if (c.local) {
        for (let left = resp; left > 0; left -= 16384) { // large responses arrive in several reads
          const n = Math.min(left, 16384);
          yield rec(c, s, { kind: 'data', syscall: pick(['read', 'recvfrom', 'recvmsg']), dir: 'recv', ret: n, payload: head(n) });
        }
      }
      if (rnd() < 0.005) {
        errors++;
        yield rec(c.local ? c : s, c.local ? s : c, { kind: 'data', syscall: 'read', dir: 'recv', ret: -ECONNRESET });
        break;
      }
    }
    if (c.local) yield rec(c, s, { kind: 'close', syscall: 'close', dir: 'none', ret: 0 });
    if (s.local) yield rec(s, c, { kind: 'close', syscall: 'close', dir: 'none', ret: 0 });
  }

  function* udpFlow(): Generator<SyntheticSockRecord> {
    udp++;
    const port = (nextPort = nextPort >= 60999 ? 32768 : nextPort + 1);
    const sock = nextSock++;
    const base = { pid: 3505, tid: 3505, comm: 'resolver', netns: NETNS, sockId: sock, proto: 'udp' as const, family: 4 as const,
      local: { ip: '10.1.0.7', port }, remote: { ip: '10.2.0.53', port: 53 }, role: 'client' as const };
    for (let i = 0; i < int(1, 4); i++) {
      const q = int(30, 60);
      const a = int(60, 300);
      yield { ...base, tsNs: (ts += 1000n), kind: 'data', syscall: 'sendto', dir: 'send', ret: q, payload: head(q) };
      yield { ...base, tsNs: (ts += 1000n), kind: 'data', syscall: 'recvfrom', dir: 'recv', ret: a, payload: head(a) };
    }
    yield { ...base, tsNs: (ts += 1000n), kind: 'close', syscall: 'close', dir: 'none', ret: 0 };
  }

  const next = () => (rnd() < 0.05 ? udpFlow() : tcpConn());
  const pool = Array.from({ length: o.concurrency }, next);
  while (out.length < o.records) {
    const i = Math.floor(rnd() * pool.length);
    const r = pool[i].next();
    if (r.done) pool[i] = next();
    else out.push(r.value);
  }
  return {
    records: out,
    summary: {
      records: out.length, connections: conns, udpFlows: udp, ipv6Share: v6 / conns, bothEndsLocalShare: both / conns,
      avgPayload: payloadBytes / Math.max(1, payloadHeads), payloadHeads, errors,
    },
  };
}

/** Splits records into ring-buffer-like batches of varied size (256..4096 records). */
export function toBatches(layout: SockLayout, records: SyntheticSockRecord[], seed: number): SockBatch[] {
  const rnd = seededRandom(seed ^ 0x5bd1e995);
  const out: SockBatch[] = [];
  for (let i = 0; i < records.length; ) {
    const n = 256 + Math.floor(rnd() * 3841);
    out.push(encodeSockBatch(layout, records.slice(i, i + n)));
    i += n;
  }
  return out;
}
