// Reads struct sock_event records (bpf/sock.h) out of ring-buffer batches. The field offsets come from
// the compiled object's BTF (see sockLayoutFrom), never from constants here, so the C struct may change.
//
// Two ways to read: SockRecordView is a reusable cursor with numeric accessors and no allocation per
// record (the flow table folds through it at >1M records/s); decodeSockEvent builds a SocketEvent object
// (strings, bigints, a payload copy) for consumers that keep records.
import { constants as osConstants } from 'node:os';
import type { L4, Role } from '../model/flow.js';
import { formatAddrWords } from './ip-format.js';
import {
  AF_INET, IPPROTO_TCP, SOCK_SYSCALLS, SockKind, type SockDirName, type SockKindName, type SockSyscall, type SocketEvent,
} from './sock-event.js';

export interface FieldSpec { offset: number; size: number }

/** Byte offsets of every sock_event field the decoder reads. */
export interface SockLayout {
  size: number; // sizeof(struct sock_event): the payload starts here
  tsNs: number; cgroupId: number; sockId: number; ret: number; bytes: number;
  pid: number; tid: number; netns: number; payloadLen: number; fd: number;
  family: number; lport: number; rport: number;
  proto: number; kind: number; dir: number; role: number; syscall: number; state: number;
  laddr: number; raddr: number; comm: number; commLen: number;
}

/** C field name -> expected size in bytes (checked, so a changed C type fails loudly, not silently). */
const FIELDS: Record<Exclude<keyof SockLayout, 'size' | 'commLen'>, [string, number]> = {
  tsNs: ['ts_ns', 8], cgroupId: ['cgroup_id', 8], sockId: ['sock_id', 8], ret: ['ret', 8], bytes: ['bytes', 8],
  pid: ['pid', 4], tid: ['tid', 4], netns: ['netns', 4], payloadLen: ['payload_len', 4], fd: ['fd', 4],
  family: ['family', 2], lport: ['lport', 2], rport: ['rport', 2],
  proto: ['proto', 1], kind: ['kind', 1], dir: ['dir', 1], role: ['role', 1], syscall: ['syscall', 1],
  state: ['state', 1], laddr: ['laddr', 16], raddr: ['raddr', 16], comm: ['comm', 0],
};

/**
 * Builds the layout from a field lookup over BTF (e.g. the kernel facade's StructLayout).
 * `field(name)` returns the member's byte offset and size, or undefined when absent.
 */
export function sockLayoutFrom(structSize: number, field: (name: string) => FieldSpec | undefined): SockLayout {
  const out: Partial<SockLayout> = { size: structSize };
  for (const [key, [cname, size]] of Object.entries(FIELDS)) {
    const f = field(cname);
    if (!f) throw new Error(`struct sock_event in the BPF object has no field '${cname}' (bpf/sock.h and the decoder disagree)`);
    if (size && f.size !== size) {
      throw new Error(`struct sock_event.${cname} is ${f.size} bytes in the BPF object, the decoder expects ${size}`);
    }
    (out as Record<string, number>)[key] = f.offset;
    if (key === 'comm') out.commLen = f.size;
  }
  return out as SockLayout;
}

/** Byte offsets of struct sock_counts (bpf/sock.h): the kernel-side counters of a flows-only socket. They
 * follow a record header in both places they appear: as the payload of a close record, and after the
 * `ev` header of a sock_totals map value (struct sock_event has no payload there). */
export interface SockCountsLayout {
  size: number; sent: number; recvd: number; lastNs: number; sendCalls: number; recvCalls: number; syscalls: number;
  counted: number;
}
const COUNT_FIELDS: Record<Exclude<keyof SockCountsLayout, 'size'>, string> = {
  sent: 'sent', recvd: 'recvd', lastNs: 'last_ns', sendCalls: 'send_calls', recvCalls: 'recv_calls', syscalls: 'syscalls',
  counted: 'counted',
};

/** struct sock_counts' layout from a BTF field lookup; every counter is a u64. */
export function sockCountsLayoutFrom(structSize: number, field: (name: string) => FieldSpec | undefined): SockCountsLayout {
  const out: Partial<SockCountsLayout> = { size: structSize };
  for (const [key, cname] of Object.entries(COUNT_FIELDS)) {
    const f = field(cname);
    if (!f || f.size !== 8) throw new Error(`struct sock_counts.${cname} is ${f ? `${f.size} bytes` : 'missing'} in the BPF object, the decoder expects a u64`);
    (out as Record<string, number>)[key] = f.offset;
  }
  return out as SockCountsLayout;
}

/** Zero-allocation cursor over one record in a batch buffer. Call at() then read fields.
 * Records are host-endian and 8-byte aligned, so when the batch buffer itself is 4-byte aligned the
 * fields are read through typed-array views (one load each) instead of Buffer's checked readers. */
export class SockRecordView {
  buf: Buffer = Buffer.alloc(0);
  off = 0;
  len = 0;
  private w32: Uint32Array | undefined;
  private w16: Uint16Array | undefined;
  /** Set when the probe counts flows-only data in the kernel: close records may then carry the counters. */
  counts: SockCountsLayout | undefined = undefined;
  constructor(readonly layout: SockLayout) {}

  at(buf: Buffer, off: number, len: number): this {
    if (buf !== this.buf) {
      this.buf = buf;
      const aligned = buf.byteOffset % 4 === 0;
      this.w32 = aligned ? new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2) : undefined;
      this.w16 = aligned ? new Uint16Array(buf.buffer, buf.byteOffset, buf.length >>> 1) : undefined;
    }
    this.off = off;
    this.len = len;
    return this;
  }

  /** Loads one word of each cache line of the header of the record at `off` in `buf` (a software
   * prefetch: the caller keeps the result so the loads are not optimised away). */
  touch(buf: Buffer, off: number): number {
    if (buf !== this.buf) return 0;
    const w = this.w32;
    if (!w) return 0;
    const i = off >>> 2;
    const last = (off + this.layout.size - 4) >>> 2;
    return w[i] ^ w[last < w.length ? last : i] ^ w[(i + 16) < w.length ? i + 16 : i];
  }

  /** False when the record is shorter than its header says (truncated/foreign data). */
  get valid(): boolean {
    return this.len >= this.layout.size && this.layout.size + this.payloadLen <= this.len;
  }
  private u8(o: number): number { return this.buf[this.off + o]; }
  private u16(o: number): number {
    const w = this.w16;
    return w ? w[(this.off + o) >>> 1] : this.buf.readUInt16LE(this.off + o);
  }
  private u32(o: number): number {
    const w = this.w32;
    return w ? w[(this.off + o) >>> 2] : this.buf.readUInt32LE(this.off + o);
  }
  /** A network-order (big-endian) u32, e.g. an IPv4 address or one IPv6 address word. */
  private be32(o: number): number {
    const w = this.w32;
    if (!w) return this.buf.readUInt32BE(this.off + o);
    const x = w[(this.off + o) >>> 2];
    return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
  }
  /** u64 as a double: exact up to 2^53 (ns timestamps: 104 days of uptime, then ~ns rounding). */
  private u64n(o: number): number { return this.u32(o + 4) * 4294967296 + this.u32(o); }

  get tsNs(): number { return this.u64n(this.layout.tsNs); }
  get pid(): number { return this.u32(this.layout.pid); }
  get tid(): number { return this.u32(this.layout.tid); }
  get netns(): number { return this.u32(this.layout.netns); }
  get payloadLen(): number { return this.u32(this.layout.payloadLen); }
  get fd(): number { return this.u32(this.layout.fd); }
  get family(): number { return this.u16(this.layout.family); }
  get lport(): number { return this.u16(this.layout.lport); }
  get rport(): number { return this.u16(this.layout.rport); }
  get proto(): number { return this.u8(this.layout.proto); }
  get kind(): number { return this.u8(this.layout.kind); }
  get dir(): number { return this.u8(this.layout.dir); }
  get role(): number { return this.u8(this.layout.role); }
  get syscall(): number { return this.u8(this.layout.syscall); }
  get state(): number { return this.u8(this.layout.state); }
  /** Syscall return value; fits a double (bytes or -errno). */
  get ret(): number { return Number(this.buf.readBigInt64LE(this.off + this.layout.ret)); }
  /** Low/high halves avoid a BigInt on the hot path. */
  get retIsNegative(): boolean { return this.u32(this.layout.ret + 4) >= 0x80000000; }
  get retErrno(): number { return this.retIsNegative ? -(this.u32(this.layout.ret) | 0) : 0; }
  get bytes(): number { return this.u64n(this.layout.bytes); }
  get cgroupId(): bigint { return this.buf.readBigUInt64LE(this.off + this.layout.cgroupId); }
  get sockId(): bigint { return this.buf.readBigUInt64LE(this.off + this.layout.sockId); }
  /** The socket id folded into 53 bits (exact for cookies and for kernel addresses, whose top 11 bits
   * are all ones): a cheap change detector; the bigint sockId stays the identity. */
  get sockIdNum(): number { return (this.u32(this.layout.sockId + 4) & 0x1fffff) * 4294967296 + this.u32(this.layout.sockId); }

  /** Address word i (0..3) of the local (which=0) or remote (1) address, IPv4 in mapped form. */
  addrWord(which: 0 | 1, i: number): number {
    const base = which === 0 ? this.layout.laddr : this.layout.raddr;
    if (this.family === AF_INET) {
      if (i < 2) return 0;
      if (i === 2) return 0xffff;
      return this.be32(base);
    }
    return this.be32(base + 4 * i);
  }

  /** Fills 4 address words + port of the local (`loc`) and remote (`rem`) ends: the flow key's input. */
  readTuple(loc: Uint32Array, rem: Uint32Array): void {
    const L = this.layout;
    if (this.u16(L.family) === AF_INET) {
      loc[0] = loc[1] = rem[0] = rem[1] = 0;
      loc[2] = rem[2] = 0xffff;
      loc[3] = this.be32(L.laddr);
      rem[3] = this.be32(L.raddr);
    } else {
      for (let i = 0; i < 4; i++) {
        loc[i] = this.be32(L.laddr + 4 * i);
        rem[i] = this.be32(L.raddr + 4 * i);
      }
    }
    loc[4] = this.u16(L.lport);
    rem[4] = this.u16(L.rport);
  }

  comm(): string {
    const start = this.off + this.layout.comm;
    let end = start;
    const max = start + this.layout.commLen;
    while (end < max && this.buf[end] !== 0) end++;
    return this.buf.toString('latin1', start, end);
  }

  /** Whether this close record carries its socket's kernel-side counters as payload. */
  get closeHasCounts(): boolean {
    const c = this.counts;
    return c !== undefined && this.payloadLen === c.size && this.kind === SockKind.close;
  }
  /** A counter of struct sock_counts (field offset from SockCountsLayout) right after the header. */
  count(field: number): number { return this.u64n(this.layout.size + field); }

  /** A view (not a copy) of the payload bytes. */
  payloadView(): Buffer {
    const start = this.off + this.layout.size;
    return this.buf.subarray(start, start + Math.min(this.payloadLen, this.len - this.layout.size));
  }
}

const ERRNO_NAMES: string[] = [];
for (const [name, num] of Object.entries(osConstants.errno)) {
  if (ERRNO_NAMES[num] === undefined) ERRNO_NAMES[num] = name;
}
/** errno number -> name (ECONNREFUSED ...), or E<n> when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

const KIND_NAMES: SockKindName[] = ['data', 'data', 'connect', 'accept', 'close'];
const DIR_NAMES: SockDirName[] = ['none', 'send', 'recv'];
const ROLE_NAMES: Role[] = ['unknown', 'client', 'server'];

/** Builds a standalone SocketEvent from the record under the view (allocates; copies the payload). */
export function decodeSockEvent(v: SockRecordView): SocketEvent {
  const fam = v.family;
  const ret = v.ret;
  const ev: SocketEvent = {
    tsNs: v.buf.readBigUInt64LE(v.off + v.layout.tsNs),
    pid: v.pid,
    tid: v.tid,
    comm: v.comm(),
    cgroupId: v.cgroupId,
    netns: v.netns,
    sockId: v.sockId,
    kind: KIND_NAMES[v.kind] ?? 'data',
    syscall: (SOCK_SYSCALLS[v.syscall] || 'read') as SockSyscall,
    dir: DIR_NAMES[v.dir] ?? 'none',
    role: ROLE_NAMES[v.role] ?? 'unknown',
    proto: (v.proto === IPPROTO_TCP ? 'tcp' : 'udp') as L4,
    family: fam === AF_INET ? 4 : 6,
    local: { ip: formatAddrWords(v.addrWord(0, 0), v.addrWord(0, 1), v.addrWord(0, 2), v.addrWord(0, 3)), port: v.lport },
    remote: { ip: formatAddrWords(v.addrWord(1, 0), v.addrWord(1, 1), v.addrWord(1, 2), v.addrWord(1, 3)), port: v.rport },
    ret,
    bytes: v.bytes,
    tcpState: v.state,
    fd: v.fd,
    payload: Buffer.from(v.payloadView()),
  };
  if (ret < 0) ev.errno = errnoName(-ret);
  return ev;
}
