// Flow snapshots for store and server tests, with 64-bit values above 2^53 so precision loss shows.
import type { FlowSnapshot } from '../../src/store/index.js';

export const BIG_COOKIE = 18446744073709551557n; // near 2^64: wrong as soon as anything goes through a double
export const BIG_CGROUP = 9007199254740993n; // 2^53 + 1

let seq = 0;

export function makeFlow(over: Partial<FlowSnapshot> & { tsNs: bigint }): FlowSnapshot {
  seq++;
  const client = over.client ?? { ip: '10.0.0.1', port: 40000 + seq };
  const server = over.server ?? { ip: '10.0.0.2', port: 80 };
  const netns = over.netns ?? 4026531840;
  return {
    id: `${netns}:tcp:${client.ip}:${client.port}-${server.ip}:${server.port}`,
    host: 'h1',
    netns,
    proto: 'tcp',
    client,
    server,
    clientProc: { pid: 1000 + seq, comm: 'curl', cgroupId: BIG_CGROUP },
    serverProc: { pid: 2000, comm: 'nginx', cgroupId: 7n },
    socketCookies: [BIG_COOKIE, BIG_COOKIE - 1n],
    firstSeenNs: 123456789012345678n,
    lastSeenNs: 123456789912345678n,
    bytesClientToServer: 100,
    bytesServerToClient: 1000,
    callsClientToServer: 1,
    callsServerToClient: 2,
    errors: {},
    ...over,
  };
}
