// Writes struct sock_event records into a buffer with a given layout: synthetic ring-buffer batches for
// unit tests and the fold benchmark (the inverse of sock-decoder.ts).
import { parseAddrWords } from './ip-format.js';
import { AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_SYSCALLS, SockDir, SockKind, SockRole } from './sock-event.js';
import type { SockLayout } from './sock-decoder.js';

export interface SyntheticSockRecord {
  tsNs: bigint; pid: number; tid?: number; comm: string; cgroupId?: bigint; netns: number; sockId: bigint;
  kind: keyof typeof SockKind; syscall: string; dir: keyof typeof SockDir; role: keyof typeof SockRole;
  proto: 'tcp' | 'udp'; family: 4 | 6; local: { ip: string; port: number }; remote: { ip: string; port: number };
  ret: number; bytes?: number; state?: number; fd?: number; payload?: Buffer;
}

function writeAddr(buf: Buffer, off: number, family: 4 | 6, ip: string): void {
  const w = parseAddrWords(ip);
  if (family === 4) buf.writeUInt32BE(w[3], off);
  else for (let i = 0; i < 4; i++) buf.writeUInt32BE(w[i], off + 4 * i);
}

/** Encodes one record at buf[off..]; returns its length (header + payload). */
export function encodeSockRecord(layout: SockLayout, r: SyntheticSockRecord, buf: Buffer, off = 0): number {
  const payload = r.payload ?? Buffer.alloc(0);
  const len = layout.size + payload.length;
  buf.fill(0, off, off + len);
  const sc = SOCK_SYSCALLS.indexOf(r.syscall as (typeof SOCK_SYSCALLS)[number]);
  if (sc <= 0) throw new Error(`unknown syscall name ${r.syscall}`);
  buf.writeBigUInt64LE(r.tsNs, off + layout.tsNs);
  buf.writeBigUInt64LE(r.cgroupId ?? 0n, off + layout.cgroupId);
  buf.writeBigUInt64LE(r.sockId, off + layout.sockId);
  buf.writeBigInt64LE(BigInt(r.ret), off + layout.ret);
  buf.writeBigUInt64LE(BigInt(r.bytes ?? Math.max(r.ret, 0)), off + layout.bytes);
  buf.writeUInt32LE(r.pid, off + layout.pid);
  buf.writeUInt32LE(r.tid ?? r.pid, off + layout.tid);
  buf.writeUInt32LE(r.netns, off + layout.netns);
  buf.writeUInt32LE(payload.length, off + layout.payloadLen);
  buf.writeUInt32LE(r.fd ?? 3, off + layout.fd);
  buf.writeUInt16LE(r.family === 4 ? AF_INET : AF_INET6, off + layout.family);
  buf.writeUInt16LE(r.local.port, off + layout.lport);
  buf.writeUInt16LE(r.remote.port, off + layout.rport);
  buf[off + layout.proto] = r.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
  buf[off + layout.kind] = SockKind[r.kind];
  buf[off + layout.dir] = SockDir[r.dir];
  buf[off + layout.role] = SockRole[r.role];
  buf[off + layout.syscall] = sc;
  buf[off + layout.state] = r.state ?? 1;
  writeAddr(buf, off + layout.laddr, r.family, r.local.ip);
  writeAddr(buf, off + layout.raddr, r.family, r.remote.ip);
  buf.write(r.comm.slice(0, layout.commLen - 1), off + layout.comm, 'latin1');
  payload.copy(buf, off + layout.size);
  return len;
}

/** A batch in the shape the ring buffer delivers: one buffer, per-record offsets and lengths. */
export interface SockBatch { buf: Buffer; offsets: Uint32Array; lengths: Uint32Array; count: number }

/** Encodes records back to back (8-byte aligned, like the ring buffer) into one batch. */
export function encodeSockBatch(layout: SockLayout, records: SyntheticSockRecord[]): SockBatch {
  const total = records.reduce((n, r) => n + ((layout.size + (r.payload?.length ?? 0) + 7) & ~7), 0);
  const buf = Buffer.alloc(total);
  const offsets = new Uint32Array(records.length);
  const lengths = new Uint32Array(records.length);
  let off = 0;
  records.forEach((r, i) => {
    offsets[i] = off;
    lengths[i] = encodeSockRecord(layout, r, buf, off);
    off += (lengths[i] + 7) & ~7;
  });
  return { buf, offsets, lengths, count: records.length };
}
