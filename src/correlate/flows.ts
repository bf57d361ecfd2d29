// The live flow table: socket records folded into flows, a flow being one 5-tuple (in a netns) over time.
//
// Both local ends of a connection (two sockets with mirrored tuples) fold into the same flow, because the
// key is the *unordered* endpoint pair; which end is the client is decided from connect/accept roles,
// then learned listening ports, then ephemeral-vs-fixed ports, then which end sent first. Non-loopback tuples are joined across network
// namespaces (a veth pair between two namespaces is one flow with a process on each end); loopback and
// unspecified addresses are only meaningful inside one netns, so those flows keep the netns in the key.
//
// Hot path (fold): numeric fields only, keyed by a 32-bit hash of the 12 key words with collision chains;
// strings (comm) are made once per end, IP text only when a snapshot is taken.
import type { Flow, ProcessRef } from '../model/flow.js';
import { formatAddrWords, isLoopbackWords } from '../collect/ip-format.js';
import { errnoName, type SockRecordView } from '../collect/sock-decoder.js';
import { IPPROTO_TCP, SOCK_SYSCALLS, SockDir, SockKind, SockRole } from '../collect/sock-event.js';

const EINPROGRESS = 115;
const EPHEMERAL_MIN = 32768; // Linux default ip_local_port_range starts here

export interface FlowTableOptions {
  /** Join non-loopback tuples seen in different network namespaces into one flow (default true). */
  joinAcrossNetns?: boolean;
  /** Keep a closed flow this long after its close (ns, default 5 s) so that its final state is visible. */
  closedTtlNs?: number;
  /** Evict flows without records for this long (ns, default 120 s). */
  idleTtlNs?: number;
  /** Hard cap; the least recently active flows go first (default 200 000). */
  maxFlows?: number;
}

export interface FlowTableStats {
  folded: number; // records folded into a flow
  skipped: number; // records without a usable tuple (unconnected sockets, listeners)
  invalid: number; // truncated records
  flows: number;
  evicted: number;
}

const KEY_WORDS = 12; // nsKey, proto, a0..a3, aport, b0..b3, bport

/** One flow; end 0 is the lower endpoint of the key ("A"), end 1 the higher ("B"). */
class FlowEntry {
  next: FlowEntry | undefined;
  readonly pid = [0, 0];
  readonly comm = ['', ''];
  readonly cgroup: [bigint, bigint] = [0n, 0n];
  readonly netns = [0, 0];
  readonly sockNum = [0, 0];
  readonly sockId: [bigint, bigint] = [0n, 0n];
  readonly role = [0, 0]; // SockRole seen on that end's socket
  readonly closedNs = [0, 0];
  readonly syscalls = [0, 0]; // bit per enum sock_syscall used on that end
  // [0] = A -> B, [1] = B -> A
  readonly sent = [0, 0];
  readonly recv = [0, 0];
  readonly sendCalls = [0, 0];
  readonly recvCalls = [0, 0];
  errors: Map<number, number> | undefined;
  firstSender = -1; // end that moved the first data (0/1), -1 before any data: the initiator
  firstNs = 0;
  lastNs = 0;
  openNs = 0;
  closedAt = 0;
  dirty = true;
  constructor(readonly key: Uint32Array, readonly hash: number) {}
}

function hashWords(k: Uint32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < KEY_WORDS; i++) {
    h = Math.imul(h ^ k[i], 0x01000193);
    h ^= h >>> 15;
  }
  return h & 0x3fffffff; // a small integer (Smi) keeps Map lookups off the heap-number path
}

function sameKey(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < KEY_WORDS; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class FlowTable {
  private readonly buckets = new Map<number, FlowEntry>();
  private readonly scratch = new Uint32Array(KEY_WORDS);
  private readonly local = new Uint32Array(5); // 4 address words + port
  private readonly remote = new Uint32Array(5);
  private readonly serverPorts = new Set<number>(); // local TCP ports seen on accepted sockets
  private readonly udpAddrs = new Map<number, Uint32Array>(); // ownPort*65536+peerPort -> own address words
  private readonly udpOrphans = new Map<number, FlowEntry[]>(); // UDP flows with an unresolved end, by port pair
  private readonly opts: Required<FlowTableOptions>;
  private count = 0;
  private finished: Flow[] = []; // flows ended by tuple reuse, handed out by the next evict()
  readonly stats: FlowTableStats = { folded: 0, skipped: 0, invalid: 0, flows: 0, evicted: 0 };

  constructor(opts: FlowTableOptions = {}) {
    this.opts = {
      joinAcrossNetns: opts.joinAcrossNetns ?? true,
      closedTtlNs: opts.closedTtlNs ?? 5e9,
      idleTtlNs: opts.idleTtlNs ?? 120e9,
      maxFlows: opts.maxFlows ?? 200_000,
    };
  }

  /** Declares a local listening TCP port (e.g. from listeningTcpPorts()): TCP ends on it are servers. */
  markServerPort(port: number): void {
    this.serverPorts.add(port);
  }

  get size(): number {
    return this.count;
  }

  /** Folds every record of a ring-buffer batch (the view is reused: no allocation per record). */
  foldBatch(batch: { buf: Buffer; offsets: ArrayLike<number>; lengths: ArrayLike<number>; count: number }, view: SockRecordView): void {
    for (let i = 0; i < batch.count; i++) this.fold(view.at(batch.buf, batch.offsets[i], batch.lengths[i]));
  }

  /** Folds the record under the view. */
  fold(v: SockRecordView): void {
    if (!v.valid) {
      this.stats.invalid++;
      return;
    }
    const kind = v.kind;
    const proto = v.proto;
    const loc = this.local;
    const rem = this.remote;
    v.readTuple(loc, rem);
    if (kind === SockKind.accept) this.serverPorts.add(loc[4]);
    // No peer: a listener, an unconnected UDP socket without an address, or a connect that failed before
    // binding. A failed connect still matters (its errno), so keep it when it names the server.
    if (rem[4] === 0 || (loc[4] === 0 && kind !== SockKind.connect)) {
      this.stats.skipped++;
      return;
    }

    if (proto !== IPPROTO_TCP) this.resolveUdpAddress(loc, rem);
    const netns = v.netns;
    const keyNs =
      this.opts.joinAcrossNetns && !isLoopbackWords(loc[0], loc[1], loc[2], loc[3]) &&
      !isLoopbackWords(rem[0], rem[1], rem[2], rem[3]) && !isUnspecified(loc) && !isUnspecified(rem)
        ? 0
        : netns;
    const localIsA = compareEndpoints(loc, rem) <= 0;
    const a = localIsA ? loc : rem;
    const b = localIsA ? rem : loc;
    const k = this.scratch;
    k[0] = keyNs;
    k[1] = proto;
    for (let i = 0; i < 5; i++) {
      k[2 + i] = a[i];
      k[7 + i] = b[i];
    }
    let e = this.lookupOrCreate(k);
    if (e.closedAt !== 0 && (kind === SockKind.connect || kind === SockKind.accept) && v.retErrno === 0) {
      // the tuple is reused by a new connection: the old flow is finished, a new one starts
      this.finished.push(this.snapshot(e));
      this.remove(e);
      e = this.lookupOrCreate(k);
    }
    const end = localIsA ? 0 : 1;
    const toPeer = end; // index of the direction local -> peer
    const fromPeer = 1 - end;

    const ts = v.tsNs;
    if (e.firstNs === 0 || ts < e.firstNs) e.firstNs = ts;
    if (ts > e.lastNs) e.lastNs = ts;
    e.dirty = true;
    this.stats.folded++;

    const pid = v.pid;
    if (e.pid[end] !== pid) {
      e.pid[end] = pid;
      e.comm[end] = v.comm();
      e.cgroup[end] = v.cgroupId;
    }
    e.netns[end] = netns;
    const sock = v.sockIdNum;
    if (e.sockNum[end] !== sock) {
      e.sockNum[end] = sock;
      e.sockId[end] = v.sockId;
    }
    const role = v.role;
    if (role !== SockRole.unknown) e.role[end] = role;
    e.syscalls[end] |= 1 << v.syscall;

    const errno = v.retErrno;
    if (kind === SockKind.data) {
      const bytes = v.bytes;
      if (e.firstSender < 0 && bytes > 0) e.firstSender = v.dir === SockDir.send ? end : 1 - end;
      if (v.dir === SockDir.send) {
        e.sent[toPeer] += bytes;
        if (bytes > 0) e.sendCalls[toPeer]++;
      } else {
        e.recv[fromPeer] += bytes;
        if (bytes > 0) e.recvCalls[fromPeer]++;
      }
      if (errno) this.addError(e, errno);
    } else if (kind === SockKind.connect) {
      e.role[end] = SockRole.client;
      if (e.openNs === 0) e.openNs = ts;
      if (errno && errno !== EINPROGRESS) {
        this.addError(e, errno);
        if (proto === IPPROTO_TCP) e.closedAt = ts; // a refused/timed-out TCP connect ends the flow
      }
    } else if (kind === SockKind.accept) {
      e.role[end] = SockRole.server;
      if (e.openNs === 0 || ts < e.openNs) e.openNs = ts;
    } else if (kind === SockKind.close) {
      e.closedNs[end] = ts;
      // Closed when every end we have seen is closed (a remote end is never seen).
      const other = 1 - end;
      if (e.pid[other] === 0 || e.closedNs[other] !== 0) e.closedAt = ts;
    }
  }

  /**
   * An unbound, unconnected UDP socket has no local address (0.0.0.0 / ::) until a route picks one per
   * datagram. Its peer's records know it: "the end on port P talking to port Q is at address C". Learn
   * that from every UDP record and fill it into records whose local address is unspecified.
   */
  private resolveUdpAddress(loc: Uint32Array, rem: Uint32Array): void {
    if (!isUnspecified(rem)) {
      const key = rem[4] * 65536 + loc[4];
      let w = this.udpAddrs.get(key);
      if (!w) {
        if (this.udpAddrs.size >= 100_000) this.udpAddrs.clear(); // bounded; relearnt from live traffic
        w = new Uint32Array(4);
        this.udpAddrs.set(key, w);
      }
      w[0] = rem[0]; w[1] = rem[1]; w[2] = rem[2]; w[3] = rem[3];
    }
    if (isUnspecified(loc)) {
      const w = this.udpAddrs.get(loc[4] * 65536 + rem[4]);
      if (w) { loc[0] = w[0]; loc[1] = w[1]; loc[2] = w[2]; loc[3] = w[3]; }
    }
  }

  /** UDP flows created before their unspecified end could be resolved, by port pair. */
  private orphanKey(k: Uint32Array): number {
    return Math.min(k[6], k[11]) * 65536 + Math.max(k[6], k[11]);
  }

  /** A new fully specified UDP flow absorbs the flows recorded while one of its ends was unresolved. */
  private adoptOrphans(e: FlowEntry): void {
    const list = this.udpOrphans.get(this.orphanKey(e.key));
    if (!list) return;
    const k = e.key;
    const endOf = (o: FlowEntry, j: number): number => { // orphan end j -> end of e, or -1
      const oo = j === 0 ? 2 : 7;
      for (let i = 0; i < 2; i++) {
        const eo = i === 0 ? 2 : 7;
        if (o.key[oo + 4] !== k[eo + 4]) continue;
        if (isUnspecified(o.key.subarray(oo, oo + 5))) return i;
        let same = true;
        for (let w = 0; w < 4; w++) if (o.key[oo + w] !== k[eo + w]) same = false;
        if (same) return i;
      }
      return -1;
    };
    for (const o of [...list]) {
      if (o.key[1] !== k[1]) continue;
      const m0 = endOf(o, 0);
      const m1 = endOf(o, 1);
      if (m0 < 0 || m1 < 0 || m0 === m1) continue;
      const map = [m0, m1];
      for (let j = 0; j < 2; j++) {
        const i = map[j];
        if (!e.pid[i] && o.pid[j]) { e.pid[i] = o.pid[j]; e.comm[i] = o.comm[j]; e.cgroup[i] = o.cgroup[j]; }
        if (!e.netns[i]) e.netns[i] = o.netns[j];
        if (!e.sockNum[i]) { e.sockNum[i] = o.sockNum[j]; e.sockId[i] = o.sockId[j]; }
        if (!e.role[i]) e.role[i] = o.role[j];
        e.syscalls[i] |= o.syscalls[j];
        // direction j -> other(j) becomes i -> other(i): index = the sending end
        e.sent[i] += o.sent[j];
        e.recv[i] += o.recv[j];
        e.sendCalls[i] += o.sendCalls[j];
        e.recvCalls[i] += o.recvCalls[j];
      }
      if (o.errors) for (const [errno, n] of o.errors) { if (!e.errors) e.errors = new Map(); e.errors.set(errno, (e.errors.get(errno) ?? 0) + n); }
      if (o.firstNs && (!e.firstNs || o.firstNs < e.firstNs)) e.firstNs = o.firstNs;
      if (o.lastNs > e.lastNs) e.lastNs = o.lastNs;
      if (o.firstSender >= 0 && (e.firstSender < 0 || o.firstNs <= e.firstNs)) e.firstSender = map[o.firstSender];
      this.remove(o);
      this.stats.evicted--; // merged, not evicted
    }
  }

  private addError(e: FlowEntry, errno: number): void {
    if (!e.errors) e.errors = new Map();
    e.errors.set(errno, (e.errors.get(errno) ?? 0) + 1);
  }

  private lookupOrCreate(k: Uint32Array): FlowEntry {
    const h = hashWords(k);
    const head = this.buckets.get(h);
    for (let e = head; e; e = e.next) if (sameKey(e.key, k)) return e;
    const e = new FlowEntry(Uint32Array.from(k), h);
    e.next = head;
    this.buckets.set(h, e);
    this.count++;
    this.stats.flows = this.count;
    if (k[1] !== IPPROTO_TCP) {
      if (isUnspecified(e.key.subarray(2, 7)) || isUnspecified(e.key.subarray(7, 12))) {
        const ok = this.orphanKey(e.key);
        const list = this.udpOrphans.get(ok);
        if (list) list.push(e);
        else this.udpOrphans.set(ok, [e]);
      } else {
        this.adoptOrphans(e);
      }
    }
    if (this.count > this.opts.maxFlows) this.evictOldest(e);
    return e;
  }

  private *entries(): IterableIterator<FlowEntry> {
    for (const head of this.buckets.values()) for (let e: FlowEntry | undefined = head; e; e = e.next) yield e;
  }

  private remove(victim: FlowEntry): void {
    let prev: FlowEntry | undefined;
    for (let e = this.buckets.get(victim.hash); e; prev = e, e = e.next) {
      if (e !== victim) continue;
      if (prev) prev.next = e.next;
      else if (e.next) this.buckets.set(e.hash, e.next);
      else this.buckets.delete(e.hash);
      this.count--;
      this.stats.evicted++;
      this.stats.flows = this.count;
      if (victim.key[1] !== IPPROTO_TCP) this.forgetOrphan(victim);
      return;
    }
  }

  private forgetOrphan(e: FlowEntry): void {
    const ok = this.orphanKey(e.key);
    const list = this.udpOrphans.get(ok);
    if (!list) return;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.udpOrphans.delete(ok);
  }

  private evictOldest(keep: FlowEntry): void {
    let oldest: FlowEntry | undefined;
    for (const e of this.entries()) if (e !== keep && (!oldest || e.lastNs < oldest.lastNs)) oldest = e;
    if (oldest) this.remove(oldest);
  }

  /** Removes flows closed longer than closedTtl or idle longer than idleTtl; returns their final state
   * (plus flows that ended because a new connection reused their tuple). */
  evict(nowNs: number): Flow[] {
    const out: Flow[] = this.finished;
    this.finished = [];
    const victims: FlowEntry[] = [];
    for (const e of this.entries()) {
      if ((e.closedAt && nowNs - e.closedAt > this.opts.closedTtlNs) || nowNs - e.lastNs > this.opts.idleTtlNs) victims.push(e);
    }
    for (const e of victims) {
      out.push(this.snapshot(e));
      this.remove(e);
    }
    return out;
  }

  /** Every flow, as plain records. */
  flows(): Flow[] {
    const out: Flow[] = [];
    for (const e of this.entries()) out.push(this.snapshot(e));
    return out;
  }

  /** Flows that changed since the previous call (for streaming updates). */
  changed(): Flow[] {
    const out: Flow[] = [];
    for (const e of this.entries()) {
      if (!e.dirty) continue;
      e.dirty = false;
      out.push(this.snapshot(e));
    }
    return out;
  }

  /** Which end (0 = A, 1 = B) is the client. */
  private clientEnd(e: FlowEntry): 0 | 1 {
    if (e.role[0] === SockRole.client || e.role[1] === SockRole.server) return 0;
    if (e.role[1] === SockRole.client || e.role[0] === SockRole.server) return 1;
    const pa = e.key[6];
    const pb = e.key[11];
    if (e.key[1] === IPPROTO_TCP) { // listening ports are TCP's (accept); a UDP port number says nothing
      const sa = this.serverPorts.has(pa);
      const sb = this.serverPorts.has(pb);
      if (sa !== sb) return sa ? 1 : 0;
    }
    const ea = pa >= EPHEMERAL_MIN;
    const eb = pb >= EPHEMERAL_MIN;
    if (ea !== eb) return ea ? 0 : 1;
    if (e.firstSender >= 0) return e.firstSender as 0 | 1; // who spoke first (UDP request/response)
    return pa >= pb ? 0 : 1; // the higher port is more likely the ephemeral one
  }

  private snapshot(e: FlowEntry): Flow {
    const c = this.clientEnd(e);
    const s = 1 - c;
    const k = e.key;
    const ep = (end: number) => {
      const o = end === 0 ? 2 : 7;
      return { ip: formatAddrWords(k[o], k[o + 1], k[o + 2], k[o + 3]), port: k[o + 4] };
    };
    const proc = (end: number): ProcessRef | undefined =>
      e.pid[end] ? { pid: e.pid[end], comm: e.comm[end], cgroupId: e.cgroup[end] } : undefined;
    const client = ep(c);
    const server = ep(s);
    const proto = k[1] === IPPROTO_TCP ? 'tcp' : 'udp';
    const nsOf = (end: number) => e.netns[end] || undefined;
    const errors: Record<string, number> = {};
    if (e.errors) for (const [errno, n] of e.errors) errors[errnoName(errno)] = n;
    const sockets: bigint[] = [];
    for (const id of e.sockId) if (id) sockets.push(id);
    const netns = e.netns[c] || e.netns[s];
    const flow: Flow = {
      id: `${k[0] || 0}:${proto}:${client.ip}:${client.port}-${server.ip}:${server.port}`,
      netns,
      proto,
      client,
      server,
      socketCookies: sockets,
      firstSeenNs: BigInt(Math.round(e.openNs || e.firstNs)),
      lastSeenNs: BigInt(Math.round(e.lastNs)),
      bytesClientToServer: Math.max(e.sent[c], e.recv[c]),
      bytesServerToClient: Math.max(e.sent[s], e.recv[s]),
      callsClientToServer: e.sendCalls[c] || e.recvCalls[c],
      callsServerToClient: e.sendCalls[s] || e.recvCalls[s],
      errors,
      clientNetns: nsOf(c),
      serverNetns: nsOf(s),
      syscalls: syscallNames(e.syscalls[0] | e.syscalls[1]),
    };
    const cp = proc(c);
    const sp = proc(s);
    if (cp) flow.clientProc = cp;
    if (sp) flow.serverProc = sp;
    if (e.closedAt) {
      flow.closedNs = BigInt(Math.round(e.closedAt));
      flow.durationNs = flow.closedNs - flow.firstSeenNs;
    } else {
      flow.durationNs = flow.lastSeenNs - flow.firstSeenNs;
    }
    return flow;
  }
}

function isUnspecified(ep: Uint32Array): boolean {
  return ep[0] === 0 && ep[1] === 0 && (ep[2] === 0 || ep[2] === 0xffff) && ep[3] === 0;
}

function compareEndpoints(x: Uint32Array, y: Uint32Array): number {
  for (let i = 0; i < 5; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

function syscallNames(mask: number): string[] {
  const out: string[] = [];
  for (let i = 1; i < SOCK_SYSCALLS.length; i++) if (mask & (1 << i)) out.push(SOCK_SYSCALLS[i]);
  return out;
}
