// Typed socket records as produced by bpf/sock.bpf.c (struct sock_event in bpf/sock.h), plus the
// numeric codes the record carries. The names here mirror the C enums; the values must match them.
import type { Endpoint, L4, Role } from '../model/flow.js';

export const SockKind = { data: 1, connect: 2, accept: 3, close: 4 } as const;
export type SockKindName = keyof typeof SockKind;

export const SockDir = { none: 0, send: 1, recv: 2 } as const;
export type SockDirName = keyof typeof SockDir;

export const SockRole = { unknown: 0, client: 1, server: 2 } as const;

/** enum sock_syscall, index = value. */
export const SOCK_SYSCALLS = [
  '', 'read', 'write', 'readv', 'writev', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg',
  'recvmmsg', 'connect', 'accept', 'accept4', 'close', 'sendfile', 'splice',
] as const;
export type SockSyscall = Exclude<(typeof SOCK_SYSCALLS)[number], ''>;

/** enum sock_stat: indexes into the per-CPU sock_stats counters. */
export const SockStat = { records: 0, drops: 1, nonInet: 2, nonTcpUdp: 3, stashFull: 4, counted: 5, countsFull: 6 } as const;
export const SOCK_STAT_COUNT = 8;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const SOCK_PAYLOAD_MAX = 4096;
export const SOCK_PAYLOAD_DEFAULT = 512;

/** One decoded socket record. */
export interface SocketEvent {
  tsNs: bigint; // CLOCK_MONOTONIC
  pid: number; // tgid
  tid: number;
  comm: string;
  cgroupId: bigint;
  netns: number;
  sockId: bigint; // socket cookie when the kernel had one, else the struct sock address
  kind: SockKindName;
  syscall: SockSyscall;
  dir: SockDirName;
  role: Role;
  proto: L4;
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
  ret: number; // syscall return value: bytes / fd / 0, or -errno
  bytes: number; // bytes moved (for *mmsg: all messages)
  errno?: string; // name of -ret when ret < 0 (ECONNREFUSED, ...)
  tcpState: number; // sk state (1 = ESTABLISHED, 2 = SYN_SENT, 7 = CLOSE, 10 = LISTEN, ...)
  fd: number;
  payload: Buffer; // first N bytes of the data (a copy: safe to keep)
}
