// One L7 exchange as faultlens records it (src/correlate/requests.ts makes them, traces.ts links them).
// Plain data shared by correlate -> store/server/cli.
import type { Endpoint, L4 } from './flow.js';

/** The kernel's view of the request's connection around the request (from the TCP collector). */
export interface RequestTcpSnapshot {
  srttUs: number; // smoothed RTT at the end of the request
  retransmits: number; // retransmitted segments counted between the request's start and its end
  totalRetrans: number; // cumulative on the connection at the end
  cwnd?: number;
  state?: string;
}

/** Which socket end captured the exchange: the caller's (client) or the callee's (server). */
export type RequestSide = 'client' | 'server';

export interface RequestRecord {
  id: string; // unique per record (also the span id: 16 hex)
  protocol: string; // http1, redis, postgres, mysql, dns
  side: RequestSide;
  startNs: bigint; // CLOCK_MONOTONIC, first request byte
  endNs: bigint; // last response byte
  durationNs: bigint;
  method: string;
  endpoint: string; // normalised route / statement / key / query name
  path?: string; // raw HTTP path (query dropped)
  status: string; // protocol status text (see src/protocols/types.ts)
  httpStatus?: number;
  error: boolean;
  errorText?: string;
  incomplete?: boolean;
  reqBytes: number;
  respBytes: number;
  tls?: boolean; // plaintext came from the TLS uprobes, not the socket
  // joins
  flowId: string; // same id as src/correlate/flows.ts gives the connection
  sockId: bigint;
  proto: L4;
  netns: number;
  pid: number; // the socket owner (the handling end for side=server, the caller for side=client)
  tid: number; // thread that moved the first request byte on this end
  comm: string;
  cgroupId: bigint;
  client: Endpoint;
  server: Endpoint;
  clientService: string;
  serverService: string;
  tcp?: RequestTcpSnapshot;
  // propagation headers seen in the captured request head
  requestIdHeader?: string;
  traceparent?: string;
  // filled by the trace linker
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  /** How sure the parent link is: 1 = deterministic (header or same socket), 1/n for n overlapping candidates. */
  linkScore?: number;
  linkedBy?: 'exchange' | 'header' | 'thread' | 'process';
}
