// Shared record types that cross layers (collect -> correlate -> store/server). Plain data, no behaviour.

export type L4 = 'tcp' | 'udp';
export type Role = 'client' | 'server' | 'unknown';

/** One end of a socket, as seen from the process that owns it. */
export interface Endpoint {
  ip: string; // dotted IPv4 or compressed IPv6 (IPv4-mapped addresses are shown as IPv4)
  port: number;
}

/** The process that owns a socket. */
export interface ProcessRef {
  pid: number; // tgid
  comm: string;
  cgroupId: bigint;
}

/** Live state of one flow: a 5-tuple in a netns over time, aggregated from socket records. */
export interface Flow {
  id: string; // stable: `${netns}:${proto}:${a}:${aport}-${b}:${bport}` with the client end first when known
  netns: number;
  proto: L4;
  client: Endpoint; // the connecting end (or the lower end when the role is unknown)
  server: Endpoint;
  clientProc?: ProcessRef; // set when the client end is a local process we saw
  serverProc?: ProcessRef;
  socketCookies: bigint[]; // kernel socket ids seen on this flow (one per local end)
  firstSeenNs: bigint; // CLOCK_MONOTONIC (bpf_ktime_get_ns)
  lastSeenNs: bigint;
  closedNs?: bigint;
  bytesClientToServer: number;
  bytesServerToClient: number;
  callsClientToServer: number; // send-side syscalls that moved data client -> server
  callsServerToClient: number;
  errors: Record<string, number>; // errno name -> count (ECONNREFUSED, ETIMEDOUT, ECONNRESET, ...)
  durationNs?: bigint; // closedNs (or lastSeenNs while open) - firstSeenNs
  clientNetns?: number; // netns inode of each local end (they differ for a flow across a veth pair)
  serverNetns?: number;
  syscalls?: string[]; // syscall families seen on this flow (read, sendmsg, sendfile, ...)
}
