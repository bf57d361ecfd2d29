// The live flow table: socket records folded into flows, a flow being one 5-tuple (in a netns) over time.
//
// Both local ends of a connection (two sockets with mirrored tuples) fold into the same flow, because the
// key is the *unordered* endpoint pair; which end is the client is decided from connect/accept roles,
// then learned listening ports, then ephemeral-vs-fixed ports, then which end sent first. Non-loopback tuples are joined across network
// namespaces (a veth pair between two namespaces is one flow with a process on each end); loopback and
// unspecified addresses are only meaningful inside one netns, so those flows keep the netns in the key.
//
// Hot path (fold): numeric fields only (in one pooled Float64Array), keyed by a 32-bit hash of the 12 key words
// with collision chains (the key is compared from int fields on the entry);
// strings (comm) are made once per end, IP text only when a snapshot is taken.
import type { Flow } from '../model/flow.js';
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

// Every numeric field of a flow lives in one table-wide Float64Array, STRIDE doubles per flow (one
// 256-byte region), instead of a dozen small per-flow arrays: a record touches 2-3 adjacent cache lines.
const STRIDE = 32;
const F_FIRST_NS = 0;
const F_LAST_NS = 1;
const F_OPEN_NS = 2;
const F_CLOSED_AT = 3;
const F_FIRST_SENDER = 4; // end that moved the first data (0/1), -1 before any data: the initiator
const END_BASE = [6, 16]; // per-end block of 10 doubles, written only by that end's records
// per-end fields (offsets inside an end's block)
const E_PID = 0;
const E_NETNS = 1;
const E_SOCK = 2; // sockIdNum: a cheap change detector for the bigint socket id
const E_ROLE = 3; // SockRole seen on that end's socket
const E_CLOSED_NS = 4;
const E_SYSCALLS = 5; // bit per enum sock_syscall used on that end
const E_SENT = 6; // bytes this end sent (direction this end -> peer)
const E_SEND_CALLS = 7;
const E_RECVD = 8; // bytes this end received (direction peer -> this end)
const E_RECV_CALLS = 9;

/** One flow; end 0 is the lower endpoint of the key ("A"), end 1 the higher ("B"). Numbers live at
 * `base` in the table's pool; the object keeps the key (also inline, for the lookup), strings and bigints. */
class FlowEntry {
  next: FlowEntry | undefined = undefined;
  comm0 = '';
  comm1 = '';
  cgroup0 = 0n;
  cgroup1 = 0n;
  sockId0 = 0n;
  sockId1 = 0n;
  errors: Map<number, number> | undefined = undefined;
  dirty = true;
  // immutable text, made on the first snapshot
  ip0: string | undefined = undefined;
  ip1: string | undefined = undefined;
  id: string | undefined = undefined;
  idClient = -1; // client end the cached id was made for
  // the key as int32 (small integers), compared without touching the key array
  readonly k0: number; readonly k1: number; readonly k2: number; readonly k3: number;
  readonly k4: number; readonly k5: number; readonly k6: number; readonly k7: number;
  readonly k8: number; readonly k9: number; readonly k10: number; readonly k11: number;
  constructor(readonly key: Uint32Array, readonly hash: number, public base: number) {
    this.k0 = key[0] | 0; this.k1 = key[1] | 0; this.k2 = key[2] | 0; this.k3 = key[3] | 0;
    this.k4 = key[4] | 0; this.k5 = key[5] | 0; this.k6 = key[6] | 0; this.k7 = key[7] | 0;
    this.k8 = key[8] | 0; this.k9 = key[9] | 0; this.k10 = key[10] | 0; this.k11 = key[11] | 0;
  }
}

function hashWords(k: Uint32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < KEY_WORDS; i++) {
    h = Math.imul(h ^ k[i], 0x01000193);
    h ^= h >>> 15;
  }
  return h & 0x3fffffff; // a small integer (Smi): masked, it indexes the bucket array
}

/** The record's local/remote endpoints are the flow's end `end` / the other end (key words as int32). */
function sameTuple(e: FlowEntry, end: number, loc: Uint32Array, rem: Uint32Array): boolean {
  const x = end === 0 ? loc : rem; // endpoint A
  const y = end === 0 ? rem : loc; // endpoint B
  return (x[4] | 0) === e.k6 && (y[4] | 0) === e.k11 && (x[3] | 0) === e.k5 && (y[3] | 0) === e.k10 &&
    (x[2] | 0) === e.k4 && (y[2] | 0) === e.k9 && (x[1] | 0) === e.k3 && (y[1] | 0) === e.k8 &&
    (x[0] | 0) === e.k2 && (y[0] | 0) === e.k7;
}

// Per-socket cache of the flow (and end) a TCP socket's records fold into: 2^SOCK_CACHE_BITS slots,
// indexed by a multiplicative hash of the socket id; a collision just sends a record down the full path.
const SOCK_CACHE_BITS = 12;
const PREFETCH_AHEAD = 4; // records
const SOCK_CACHE_SHIFT = 32 - SOCK_CACHE_BITS;

function sameKey(e: FlowEntry, k: Int32Array): boolean {
  return e.k0 === k[0] && e.k1 === k[1] && e.k2 === k[2] && e.k3 === k[3] && e.k4 === k[4] && e.k5 === k[5] &&
    e.k6 === k[6] && e.k7 === k[7] && e.k8 === k[8] && e.k9 === k[9] && e.k10 === k[10] && e.k11 === k[11];
}

export class FlowTable {
  // chained hash table: bucket = hash & mask, grown (x2) when it holds more flows than buckets
  private buckets: (FlowEntry | undefined)[] = new Array<FlowEntry | undefined>(1024).fill(undefined);
  private mask = 1023;
  private readonly scratch = new Uint32Array(KEY_WORDS);
  private readonly scratchI = new Int32Array(this.scratch.buffer); // the same words as int32, for sameKey
  private readonly local = new Uint32Array(5); // 4 address words + port
  private readonly remote = new Uint32Array(5);
  private readonly sockCache: (FlowEntry | undefined)[] = new Array<FlowEntry | undefined>(1 << SOCK_CACHE_BITS).fill(undefined);
  private readonly sockCacheId = new Float64Array(1 << SOCK_CACHE_BITS); // sockIdNum of the slot's socket
  private readonly sockCacheEnd = new Uint8Array(1 << SOCK_CACHE_BITS); // which end of the flow it is
  private readonly serverPorts = new Set<number>(); // local TCP ports seen on accepted sockets
  private readonly udpAddrs = new Map<number, Uint32Array>(); // ownPort*65536+peerPort -> own address words
  private readonly udpOrphans = new Map<number, FlowEntry[]>(); // UDP flows with an unresolved end, by port pair
  private readonly opts: Required<FlowTableOptions>;
  private num = new Float64Array(STRIDE * 256); // the flows' numeric fields, STRIDE per flow (grows)
  private readonly freeBases: number[] = []; // released regions of `num`
  private nextBase = 0; // first never-used region
  private count = 0;
  private finished: Flow[] = []; // flows ended by tuple reuse, handed out by the next evict()
  private touched = 0; // keeps the prefetching loads of foldBatch alive
  private locatedEnd = 0; // the end locate() found
  /** Flows-only sockets counted in the kernel: the counters already added to their flow end, by sockIdNum. */
  private readonly applied = new Map<number, { entry: FlowEntry; sent: number; recvd: number; sendCalls: number; recvCalls: number }>();
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
    const { buf, offsets, lengths, count } = batch;
    // Records are usually out of the CPU caches (the kernel wrote them on another core, between payload
    // bytes the fold never reads): touching the header of the record PREFETCH_AHEAD places further on
    // issues its cache misses early, so they overlap with the folding of this one.
    let touched = 0;
    for (let i = 0; i < count; i++) {
      if (i + PREFETCH_AHEAD < count) touched ^= view.touch(buf, offsets[i + PREFETCH_AHEAD]);
      this.fold(view.at(buf, offsets[i], lengths[i]));
    }
    this.touched ^= touched;
  }

  /** Folds the record under the view. */
  fold(v: SockRecordView): void {
    if (!v.valid) {
      this.stats.invalid++;
      return;
    }
    const kind = v.kind;
    const proto = v.proto;
    const e = this.locate(v, kind, proto);
    if (e === undefined) return;
    const end = this.locatedEnd;
    const netns = v.netns;
    const sock = v.sockIdNum;
    const errno = v.retErrno;
    const n = this.num; // after lookupOrCreate, which may grow the pool
    const base = e.base;
    const o = base + (end === 0 ? 6 : 16); // END_BASE[end]

    const ts = v.tsNs;
    const first = n[base + F_FIRST_NS];
    if (first === 0 || ts < first) n[base + F_FIRST_NS] = ts;
    if (ts > n[base + F_LAST_NS]) n[base + F_LAST_NS] = ts;
    e.dirty = true;
    this.stats.folded++;

    const pid = v.pid;
    if (pid !== 0 && n[o + E_PID] !== pid) { // pid 0: a record from softirq context names no process
      n[o + E_PID] = pid;
      if (end === 0) { e.comm0 = v.comm(); e.cgroup0 = v.cgroupId; } else { e.comm1 = v.comm(); e.cgroup1 = v.cgroupId; }
    }
    n[o + E_NETNS] = netns;
    if (n[o + E_SOCK] !== sock) {
      n[o + E_SOCK] = sock;
      if (end === 0) e.sockId0 = v.sockId; else e.sockId1 = v.sockId;
    }
    const role = v.role;
    if (role !== SockRole.unknown) n[o + E_ROLE] = role;
    n[o + E_SYSCALLS] = n[o + E_SYSCALLS] | (1 << v.syscall);

    if (kind === SockKind.data) {
      const bytes = v.bytes;
      const send = v.dir === SockDir.send;
      if (bytes > 0 && n[base + F_FIRST_SENDER] < 0) n[base + F_FIRST_SENDER] = send ? end : 1 - end;
      if (send) {
        n[o + E_SENT] += bytes;
        if (bytes > 0) n[o + E_SEND_CALLS]++;
      } else {
        n[o + E_RECVD] += bytes;
        if (bytes > 0) n[o + E_RECV_CALLS]++;
      }
      if (errno) this.addError(e, errno);
    } else if (kind === SockKind.connect) {
      n[o + E_ROLE] = SockRole.client;
      if (n[base + F_OPEN_NS] === 0) n[base + F_OPEN_NS] = ts;
      if (errno && errno !== EINPROGRESS) {
        this.addError(e, errno);
        if (proto === IPPROTO_TCP) n[base + F_CLOSED_AT] = ts; // a refused/timed-out TCP connect ends the flow
      }
    } else if (kind === SockKind.accept) {
      n[o + E_ROLE] = SockRole.server;
      const open = n[base + F_OPEN_NS];
      if (open === 0 || ts < open) n[base + F_OPEN_NS] = ts;
    } else if (kind === SockKind.close) {
      if (v.closeHasCounts) this.addCounts(v, e, end, sock, true);
      n[o + E_CLOSED_NS] = ts;
      // Closed when every end we have seen is closed (a remote end is never seen).
      const other = base + END_BASE[1 - end];
      if (n[other + E_PID] === 0 || n[other + E_CLOSED_NS] !== 0) n[base + F_CLOSED_AT] = ts;
    }
  }

  /** The flow (and, in locatedEnd, the end) a record with a tuple belongs to, created when new;
   * undefined (counted as skipped) for a record without a peer. */
  private locate(v: SockRecordView, kind: number, proto: number): FlowEntry | undefined {
    const loc = this.local;
    const rem = this.remote;
    v.readTuple(loc, rem);
    const netns = v.netns;
    const sock = v.sockIdNum;
    let e: FlowEntry | undefined;
    let end = 0;
    // Fast path: a TCP data or close record of a socket whose flow an earlier record found. The tuple is
    // still compared with the flow's key (a freed socket's id may come back with another tuple), but the
    // key building, hashing and bucket walk are skipped. Connect/accept records always take the full path
    // (they may start a new flow on a reused tuple); UDP too (peers change per datagram).
    const cacheable = proto === IPPROTO_TCP && (kind === SockKind.data || kind === SockKind.close);
    const slot = cacheable ? Math.imul(sock >>> 0, 0x9e3779b1) >>> SOCK_CACHE_SHIFT : 0;
    if (cacheable) {
      const c = this.sockCache[slot];
      if (c !== undefined && c.base >= 0 && this.sockCacheId[slot] === sock) {
        const ce = this.sockCacheEnd[slot];
        if ((c.k0 === 0 || c.k0 === (netns | 0)) && sameTuple(c, ce, loc, rem)) {
          e = c;
          end = ce;
        }
      }
    }
    if (e === undefined) {
      if (kind === SockKind.accept) this.serverPorts.add(loc[4]);
      // No peer: a listener, an unconnected UDP socket without an address, or a connect that failed before
      // binding. A failed connect still matters (its errno), so keep it when it names the server.
      if (rem[4] === 0 || (loc[4] === 0 && kind !== SockKind.connect)) {
        this.stats.skipped++;
        return undefined;
      }

      if (proto !== IPPROTO_TCP) this.resolveUdpAddress(loc, rem);
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
      e = this.lookupOrCreate(k);
      if (this.num[e.base + F_CLOSED_AT] !== 0 && (kind === SockKind.connect || kind === SockKind.accept) && v.retErrno === 0) {
        // the tuple is reused by a new connection: the old flow is finished, a new one starts
        this.finished.push(this.snapshot(e));
        this.remove(e);
        e = this.lookupOrCreate(k);
      }
      end = localIsA ? 0 : 1;
      if (cacheable) {
        this.sockCache[slot] = e;
        this.sockCacheId[slot] = sock;
        this.sockCacheEnd[slot] = end;
      }
    }
    this.locatedEnd = end;
    return e;
  }

  /**
   * Folds a flows-only socket's kernel-side counters (a sock_totals map value under the view: its first
   * data record's header, then struct sock_counts). They are cumulative per socket: what was already
   * applied is remembered, and only the increase is added; `final` forgets the socket afterwards (the
   * kernel stops counting it).
   */
  foldCounts(v: SockRecordView, final = false): void {
    if (v.counts === undefined || v.len < v.layout.size + v.counts.size) {
      this.stats.invalid++;
      return;
    }
    const e = this.locate(v, SockKind.data, v.proto);
    if (e === undefined) return;
    const end = this.locatedEnd;
    const n = this.num;
    const o = e.base + END_BASE[end];
    if (n[e.base + F_FIRST_NS] === 0) n[e.base + F_FIRST_NS] = v.tsNs; // a flow evicted while its socket lived
    if (n[o + E_PID] === 0) {
      n[o + E_PID] = v.pid;
      n[o + E_NETNS] = v.netns;
      n[o + E_SOCK] = v.sockIdNum;
      this.setProc(e, end, v.comm(), v.cgroupId);
      this.setSockId(e, end, v.sockId);
    }
    this.addCounts(v, e, end, v.sockIdNum, final);
  }

  /** Adds the increase of a socket's counters since the last call to its flow end; `final` (its close
   * record) ends the socket's bookkeeping. */
  private addCounts(v: SockRecordView, e: FlowEntry, end: number, sock: number, final: boolean): void {
    const c = v.counts!;
    let a = this.applied.get(sock);
    if (a === undefined || a.entry !== e) { // first counters of this socket (or its id now names another)
      a = { entry: e, sent: 0, recvd: 0, sendCalls: 0, recvCalls: 0 };
      if (!final) this.applied.set(sock, a);
    }
    const sent = v.count(c.sent);
    const recvd = v.count(c.recvd);
    const sendCalls = v.count(c.sendCalls);
    const recvCalls = v.count(c.recvCalls);
    const n = this.num;
    const base = e.base;
    const o = base + END_BASE[end];
    if (sent > a.sent) n[o + E_SENT] += sent - a.sent;
    if (recvd > a.recvd) n[o + E_RECVD] += recvd - a.recvd;
    if (sendCalls > a.sendCalls) n[o + E_SEND_CALLS] += sendCalls - a.sendCalls;
    if (recvCalls > a.recvCalls) n[o + E_RECV_CALLS] += recvCalls - a.recvCalls;
    if (n[base + F_FIRST_SENDER] < 0 && (sent > 0 || recvd > 0)) n[base + F_FIRST_SENDER] = sent > 0 ? end : 1 - end;
    n[o + E_SYSCALLS] = n[o + E_SYSCALLS] | v.count(c.syscalls);
    const last = v.count(c.lastNs);
    if (last > n[base + F_LAST_NS]) n[base + F_LAST_NS] = last;
    if (sent !== a.sent || recvd !== a.recvd) e.dirty = true;
    if (final) {
      this.applied.delete(sock);
      return;
    }
    a.sent = sent;
    a.recvd = recvd;
    a.sendCalls = sendCalls;
    a.recvCalls = recvCalls;
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
    const n = this.num;
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
        // orphan end j is e's end i: its block (what it sent and received, its socket) moves over whole
        const ei = e.base + END_BASE[i];
        const oj = o.base + END_BASE[j];
        if (!n[ei + E_PID] && n[oj + E_PID]) {
          n[ei + E_PID] = n[oj + E_PID];
          this.setProc(e, i, this.commOf(o, j), this.cgroupOf(o, j));
        }
        if (!n[ei + E_NETNS]) n[ei + E_NETNS] = n[oj + E_NETNS];
        if (!n[ei + E_SOCK]) { n[ei + E_SOCK] = n[oj + E_SOCK]; this.setSockId(e, i, this.sockIdOf(o, j)); }
        if (!n[ei + E_ROLE]) n[ei + E_ROLE] = n[oj + E_ROLE];
        n[ei + E_SYSCALLS] = n[ei + E_SYSCALLS] | n[oj + E_SYSCALLS];
        n[ei + E_SENT] += n[oj + E_SENT];
        n[ei + E_SEND_CALLS] += n[oj + E_SEND_CALLS];
        n[ei + E_RECVD] += n[oj + E_RECVD];
        n[ei + E_RECV_CALLS] += n[oj + E_RECV_CALLS];
      }
      if (o.errors) for (const [errno, c] of o.errors) { if (!e.errors) e.errors = new Map(); e.errors.set(errno, (e.errors.get(errno) ?? 0) + c); }
      const eb = e.base;
      const ob = o.base;
      if (n[ob + F_FIRST_NS] && (!n[eb + F_FIRST_NS] || n[ob + F_FIRST_NS] < n[eb + F_FIRST_NS])) n[eb + F_FIRST_NS] = n[ob + F_FIRST_NS];
      if (n[ob + F_LAST_NS] > n[eb + F_LAST_NS]) n[eb + F_LAST_NS] = n[ob + F_LAST_NS];
      const ofs = n[ob + F_FIRST_SENDER];
      if (ofs >= 0 && (n[eb + F_FIRST_SENDER] < 0 || n[ob + F_FIRST_NS] <= n[eb + F_FIRST_NS])) n[eb + F_FIRST_SENDER] = map[ofs];
      this.remove(o);
      this.stats.evicted--; // merged, not evicted
    }
  }

  private commOf(e: FlowEntry, end: number): string { return end === 0 ? e.comm0 : e.comm1; }
  private cgroupOf(e: FlowEntry, end: number): bigint { return end === 0 ? e.cgroup0 : e.cgroup1; }
  private sockIdOf(e: FlowEntry, end: number): bigint { return end === 0 ? e.sockId0 : e.sockId1; }
  private setProc(e: FlowEntry, end: number, comm: string, cgroup: bigint): void {
    if (end === 0) { e.comm0 = comm; e.cgroup0 = cgroup; } else { e.comm1 = comm; e.cgroup1 = cgroup; }
  }
  private setSockId(e: FlowEntry, end: number, id: bigint): void {
    if (end === 0) e.sockId0 = id; else e.sockId1 = id;
  }

  private addError(e: FlowEntry, errno: number): void {
    if (!e.errors) e.errors = new Map();
    e.errors.set(errno, (e.errors.get(errno) ?? 0) + 1);
  }

  /** A zeroed STRIDE-double region of the pool for a new flow. */
  private allocBase(): number {
    let base = this.freeBases.pop();
    if (base === undefined) {
      base = this.nextBase;
      this.nextBase += STRIDE;
      if (this.nextBase > this.num.length) {
        const grown = new Float64Array(this.num.length * 2);
        grown.set(this.num);
        this.num = grown;
      }
    }
    this.num[base + F_FIRST_SENDER] = -1;
    return base;
  }

  private lookupOrCreate(k: Uint32Array): FlowEntry {
    const h = hashWords(k);
    const head = this.buckets[h & this.mask];
    const ki = this.scratchI;
    for (let e = head; e; e = e.next) if (sameKey(e, ki)) return e;
    const e = new FlowEntry(Uint32Array.from(k), h, this.allocBase());
    e.next = head;
    this.buckets[h & this.mask] = e;
    this.count++;
    this.stats.flows = this.count;
    if (this.count > this.buckets.length) this.growBuckets();
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

  private growBuckets(): void {
    const old = this.buckets;
    this.buckets = new Array<FlowEntry | undefined>(old.length * 2).fill(undefined);
    this.mask = this.buckets.length - 1;
    for (const head of old) {
      for (let e = head; e; ) {
        const next = e.next;
        const i = e.hash & this.mask;
        e.next = this.buckets[i];
        this.buckets[i] = e;
        e = next;
      }
    }
  }

  private *entries(): IterableIterator<FlowEntry> {
    for (const head of this.buckets) for (let e: FlowEntry | undefined = head; e; e = e.next) yield e;
  }

  private remove(victim: FlowEntry): void {
    let prev: FlowEntry | undefined;
    for (let e = this.buckets[victim.hash & this.mask]; e; prev = e, e = e.next) {
      if (e !== victim) continue;
      if (prev) prev.next = e.next;
      else this.buckets[e.hash & this.mask] = e.next;
      this.count--;
      this.stats.evicted++;
      this.stats.flows = this.count;
      if (victim.key[1] !== IPPROTO_TCP) this.forgetOrphan(victim);
      this.num.fill(0, victim.base, victim.base + STRIDE);
      this.freeBases.push(victim.base);
      victim.base = -1; // a removed entry must not be read again
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
    const n = this.num;
    for (const e of this.entries()) if (e !== keep && (!oldest || n[e.base + F_LAST_NS] < n[oldest.base + F_LAST_NS])) oldest = e;
    if (oldest) this.remove(oldest);
  }

  /** Removes flows closed longer than closedTtl or idle longer than idleTtl; returns their final state
   * (plus flows that ended because a new connection reused their tuple). */
  evict(nowNs: number): Flow[] {
    const out: Flow[] = this.finished;
    this.finished = [];
    const victims: FlowEntry[] = [];
    const n = this.num;
    for (const e of this.entries()) {
      const closedAt = n[e.base + F_CLOSED_AT];
      if ((closedAt && nowNs - closedAt > this.opts.closedTtlNs) || nowNs - n[e.base + F_LAST_NS] > this.opts.idleTtlNs) victims.push(e);
    }
    for (const e of victims) {
      out.push(this.snapshot(e));
      this.remove(e);
    }
    // counters of sockets whose close record never came (a full ring) would stay forever
    if (victims.length && this.applied.size) for (const [k, a] of this.applied) if (a.entry.base < 0) this.applied.delete(k);
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
    const n = this.num;
    const r0 = n[e.base + END_BASE[0] + E_ROLE];
    const r1 = n[e.base + END_BASE[1] + E_ROLE];
    if (r0 === SockRole.client || r1 === SockRole.server) return 0;
    if (r1 === SockRole.client || r0 === SockRole.server) return 1;
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
    const fs = n[e.base + F_FIRST_SENDER];
    if (fs >= 0) return fs as 0 | 1; // who spoke first (UDP request/response)
    return pa >= pb ? 0 : 1; // the higher port is more likely the ephemeral one
  }

  /** IP text of one end: the key never changes, so it is formatted once per flow. */
  private ipText(e: FlowEntry, end: number): string {
    const k = e.key;
    if (end === 0) return (e.ip0 ??= formatAddrWords(k[2], k[3], k[4], k[5]));
    return (e.ip1 ??= formatAddrWords(k[7], k[8], k[9], k[10]));
  }

  private snapshot(e: FlowEntry): Flow {
    const c = this.clientEnd(e);
    const s = 1 - c;
    const k = e.key;
    const n = this.num;
    const base = e.base;
    const cb = base + END_BASE[c];
    const sb = base + END_BASE[s];
    const client = { ip: this.ipText(e, c), port: k[c === 0 ? 6 : 11] };
    const server = { ip: this.ipText(e, s), port: k[s === 0 ? 6 : 11] };
    const proto = k[1] === IPPROTO_TCP ? 'tcp' : 'udp';
    if (e.idClient !== c) {
      e.id = `${k[0] || 0}:${proto}:${client.ip}:${client.port}-${server.ip}:${server.port}`;
      e.idClient = c;
    }
    const errors: Record<string, number> = {};
    if (e.errors) for (const [errno, count] of e.errors) errors[errnoName(errno)] = count;
    const sockets: bigint[] = [];
    if (e.sockId0) sockets.push(e.sockId0);
    if (e.sockId1) sockets.push(e.sockId1);
    const cNs = n[cb + E_NETNS];
    const sNs = n[sb + E_NETNS];
    const firstSeenNs = BigInt(Math.round(n[base + F_OPEN_NS] || n[base + F_FIRST_NS]));
    const lastSeenNs = BigInt(Math.round(n[base + F_LAST_NS]));
    const flow: Flow = {
      id: e.id!,
      netns: cNs || sNs,
      proto,
      client,
      server,
      socketCookies: sockets,
      firstSeenNs,
      lastSeenNs,
      // direction client -> server: what the client end sent, or what the server end received
      bytesClientToServer: Math.max(n[cb + E_SENT], n[sb + E_RECVD]),
      bytesServerToClient: Math.max(n[sb + E_SENT], n[cb + E_RECVD]),
      callsClientToServer: n[cb + E_SEND_CALLS] || n[sb + E_RECV_CALLS],
      callsServerToClient: n[sb + E_SEND_CALLS] || n[cb + E_RECV_CALLS],
      errors,
      clientNetns: cNs || undefined,
      serverNetns: sNs || undefined,
      syscalls: syscallNames(n[cb + E_SYSCALLS] | n[sb + E_SYSCALLS]),
    };
    const cp = n[cb + E_PID];
    const sp = n[sb + E_PID];
    if (cp) flow.clientProc = { pid: cp, comm: this.commOf(e, c), cgroupId: this.cgroupOf(e, c) };
    if (sp) flow.serverProc = { pid: sp, comm: this.commOf(e, s), cgroupId: this.cgroupOf(e, s) };
    const closedAt = n[base + F_CLOSED_AT];
    if (closedAt) {
      flow.closedNs = BigInt(Math.round(closedAt));
      flow.durationNs = flow.closedNs - firstSeenNs;
    } else {
      flow.durationNs = lastSeenNs - firstSeenNs;
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
