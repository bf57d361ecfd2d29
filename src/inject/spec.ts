// Fault specifications: what to break, for whom, for how long. Validated with zod; every check that can be
// made without the kernel happens here so that a bad spec fails before anything is loaded.
import { isIP } from 'node:net';
import { z } from 'zod';

const MAX_TTL_SEC = 24 * 3600;

const port = z.number().int().min(1).max(65535);
const cidr = z.string().refine((s) => parseCidr(s) !== undefined, (s) => ({ message: `'${s}' is not an IP address or CIDR (e.g. 10.0.0.2, 10.0.0.0/24, fd00::1)` }));

export const scopeSchema = z.object({
  /** `ip netns` name: packet faults attach to its interfaces, socket faults only touch its sockets. */
  netns: z.string().min(1).regex(/^[\w.-]+$/, 'netns: letters, digits, ".", "_" and "-" only').optional(),
  /** Interfaces for packet faults (default: every interface of the netns except lo). */
  ifname: z.array(z.string().min(1).max(15)).min(1).optional(),
  /** cgroup v2 directory (absolute, or relative to the cgroup v2 mount) for connect and TCP faults. */
  cgroup: z.string().min(1).optional(),
  /** Only this process (connect, setsockopt, and the connections it opens for TCP knobs). */
  pid: z.number().int().positive().optional(),
  localIp: cidr.optional(),
  remoteIp: cidr.optional(),
  localPort: port.optional(),
  remotePort: port.optional(),
  proto: z.enum(['tcp', 'udp']).optional(),
  /** Packet faults: which packets on the interface (ingress = arriving, egress = leaving). */
  direction: z.enum(['ingress', 'egress', 'both']).optional(),
}).strict();

const base = {
  scope: scopeSchema,
  ttlSec: z.number({ invalid_type_error: 'ttlSec must be a number of seconds' }).positive('ttlSec must be positive')
    .max(MAX_TTL_SEC, `ttlSec must be at most ${MAX_TTL_SEC} (24 h)`),
  /** Explicit consent for a fault without any narrowing scope (a whole host / cgroup tree). */
  allTraffic: z.boolean().optional(),
  label: z.string().max(80).optional(),
};

export const lossSpec = z.object({ kind: z.literal('loss'), ...base,
  percent: z.number().gt(0, 'percent must be > 0').max(100, 'percent must be <= 100'),
  /** Cap GSO to one segment per packet on the scoped interfaces, so loss is per MSS segment (default true). */
  segments: z.boolean().default(true),
}).strict();
export const blackholeSpec = z.object({ kind: z.literal('blackhole'), ...base }).strict();
export const refuseSpec = z.object({ kind: z.literal('refuse'), ...base,
  errno: z.enum(['EPERM', 'ECONNREFUSED']).default('ECONNREFUSED') }).strict();
export const requestSpec = z.object({ kind: z.literal('request'), ...base,
  method: z.string().regex(/^[A-Z]{3,10}$/, 'method: an HTTP method in capitals (GET, POST, ...)'),
  path: z.string().startsWith('/', 'path must start with /').regex(/^\S+$/, 'path must not contain spaces'),
  /** true: any path starting with `path`; false: `path` itself or below it (`path/...`, `path?...`). */
  prefix: z.boolean().default(false),
  /** timeout: the request and the rest of its connection are dropped; reset: the request segment becomes a RST
   *  (the server drops the connection, the client gets ECONNRESET on its retransmission). */
  action: z.enum(['timeout', 'reset']).default('timeout'),
}).strict().refine((s) => s.method.length + 1 + s.path.length <= 64, { message: 'method + path must fit in 63 bytes' });
export const tcpSpec = z.object({ kind: z.literal('tcp'), ...base,
  nagle: z.boolean().optional(),
  // the kernel only accepts values up to its defaults (TCP_DELACK_MAX / TCP_RTO_MIN, 200 ms): these knobs make
  // ACKs and RTOs faster, never slower
  delackMaxMs: z.number().positive().max(200, 'delackMaxMs: the kernel accepts at most 200 ms (TCP_DELACK_MAX)').optional(),
  rtoMinMs: z.number().positive().max(200, 'rtoMinMs: the kernel accepts at most 200 ms (TCP_RTO_MIN); it can lower the minimum RTO, not raise it').optional(),
  windowClamp: z.number().int().min(512).optional(),
  cwndClamp: z.number().int().min(1).optional(),
  rcvbuf: z.number().int().min(1024).optional(),
  sndbuf: z.number().int().min(1024).optional(),
  /** bytes per second */
  pacingRate: z.number().int().min(1000).max(0x7fffffff, 'pacingRate: at most 2^31-1 bytes/s').optional(),
  congestion: z.string().regex(/^[a-z0-9_]{1,15}$/).optional(),
}).strict().refine((s) => s.nagle || s.delackMaxMs || s.rtoMinMs || s.windowClamp || s.cwndClamp || s.rcvbuf ||
  s.sndbuf || s.pacingRate || s.congestion, { message: 'a tcp fault needs at least one knob (nagle, delackMaxMs, rtoMinMs, windowClamp, cwndClamp, rcvbuf, sndbuf, pacingRate, congestion)' });

export const bandwidthSpec = z.object({ kind: z.literal('bandwidth'), ...base,
  /** bytes per second, over all matching packets of each direction */
  rate: z.number().int().min(1000, 'rate must be at least 1000 bytes/s'),
  /** bucket depth in bytes (default: 250 ms of rate, at least 64 KiB (128 KiB without segments, so GSO packets fit)) */
  burstBytes: z.number().int().min(1500).max(0xffffffff).optional(),
  /** one MSS segment per packet on the scoped interfaces (as for loss), so the policer drops segments, not 64 KiB bursts */
  segments: z.boolean().default(true),
}).strict();

export const faultSpecSchema = z.union([lossSpec, blackholeSpec, refuseSpec, requestSpec, tcpSpec, bandwidthSpec]);

export type Scope = z.infer<typeof scopeSchema>;
export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultKind = FaultSpec['kind'];
export const PACKET_KINDS: ReadonlySet<FaultKind> = new Set(['loss', 'blackhole', 'request', 'bandwidth']);

export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

const KIND_SCHEMAS = { loss: lossSpec, blackhole: blackholeSpec, refuse: refuseSpec, request: requestSpec, tcp: tcpSpec, bandwidth: bandwidthSpec } as const;

/** Validates a spec (unknown input) or throws FaultSpecError naming every problem. */
export function parseFaultSpec(input: unknown): FaultSpec {
  const kind = (input as { kind?: unknown } | null)?.kind;
  const schema = typeof kind === 'string' ? KIND_SCHEMAS[kind as FaultKind] : undefined;
  if (!schema) {
    throw new FaultSpecError(`unknown fault kind ${JSON.stringify(kind)}: one of ${Object.keys(KIND_SCHEMAS).join(', ')}`);
  }
  const r = (schema as z.ZodType<FaultSpec>).safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`);
    throw new FaultSpecError(`invalid ${kind} fault: ${problems.join('; ')}`);
  }
  const spec = r.data;
  checkScope(spec);
  return spec;
}

function checkScope(spec: FaultSpec): void {
  const s = spec.scope;
  const packet = PACKET_KINDS.has(spec.kind);
  const narrowing = s.pid !== undefined || s.localIp || s.remoteIp || s.localPort || s.remotePort;
  if (packet) {
    if (!s.netns && !s.ifname) throw new FaultSpecError(`a ${spec.kind} fault needs interfaces: scope.netns and/or scope.ifname`);
    if (s.pid !== undefined) throw new FaultSpecError(`scope.pid does not apply to ${spec.kind} faults (packets on an interface have no process); use ports or addresses`);
    if (s.cgroup) throw new FaultSpecError(`scope.cgroup does not apply to ${spec.kind} faults (they act on interfaces); use netns/ifname`);
    // a named namespace is a scope of its own; interfaces of the host namespace need a narrower filter
    if (!s.netns && !narrowing && !spec.allTraffic) {
      throw new FaultSpecError(`refusing a host-wide ${spec.kind} fault on ${s.ifname!.join(', ')}: narrow the scope (addresses, ports) or set allTraffic`);
    }
  } else {
    if (s.ifname) throw new FaultSpecError(`scope.ifname does not apply to ${spec.kind} faults (they act on sockets); use netns, cgroup or pid`);
    if (s.direction) throw new FaultSpecError(`scope.direction does not apply to ${spec.kind} faults`);
    if (!s.netns && !s.cgroup && !narrowing && !spec.allTraffic) {
      throw new FaultSpecError(`refusing a host-wide ${spec.kind} fault: give scope.netns, cgroup, pid, addresses or ports, or set allTraffic`);
    }
    if (spec.kind === 'tcp' && s.proto === 'udp') throw new FaultSpecError('a tcp fault cannot have scope.proto udp');
  }
  if (spec.kind === 'request' && s.proto === 'udp') throw new FaultSpecError('a request fault matches HTTP over TCP: scope.proto cannot be udp');
  const fam = [s.localIp, s.remoteIp].filter(Boolean).map((c) => parseCidr(c!)!.family);
  if (fam.length === 2 && fam[0] !== fam[1]) throw new FaultSpecError('scope.localIp and scope.remoteIp are of different address families');
}

export interface Cidr { family: 4 | 6; bytes: Buffer; prefix: number }

/** '10.0.0.1', '10.0.0.0/24', 'fd00::1/64' -> address bytes (16, IPv4 in the first 4) and prefix bits. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, ...rest] = text.split('/');
  if (rest.length || !addr) return undefined;
  const v = isIP(addr);
  if (!v) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d+$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 1 && prefix <= max)) return undefined;
  const bytes = Buffer.alloc(16);
  if (v === 4) addr.split('.').forEach((o, i) => bytes.writeUInt8(Number(o), i));
  else ipv6Bytes(addr).copy(bytes);
  return { family: v as 4 | 6, bytes, prefix };
}

function ipv6Bytes(addr: string): Buffer {
  let text = addr;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text); // ::ffff:1.2.3.4
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    text = text.slice(0, -v4[1]!.length) + '0';
    text = text.endsWith('::0') ? text.slice(0, -1) : text.slice(0, -2);
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':').map((g) => parseInt(g, 16)) : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':').map((g) => parseInt(g, 16)) : [];
  const groups = rest === undefined ? [...h, ...tail] : [...h, ...Array(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail];
  const b = Buffer.alloc(16);
  groups.slice(0, 8).forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

/** Human one-liner of a spec (for `inject ls`). */
/** The policer's bucket depth for a bandwidth spec. */
export function burstBytes(spec: Extract<FaultSpec, { kind: 'bandwidth' }>): number {
  return spec.burstBytes ?? Math.max(Math.round(spec.rate / 4), spec.segments ? 65536 : 2 * 65536);
}

export function describeSpec(spec: FaultSpec): string {
  const s = spec.scope;
  const what = spec.kind === 'loss' ? `loss ${spec.percent}%`
    : spec.kind === 'refuse' ? `refuse connect (${spec.errno})`
    : spec.kind === 'request' ? `request ${spec.method} ${spec.path}${spec.prefix ? '*' : ''} -> ${spec.action}`
    : spec.kind === 'tcp' ? `tcp ${tcpKnobs(spec).join(' ')}`
    : spec.kind === 'bandwidth' ? `bandwidth ${spec.rate} B/s (${((spec.rate * 8) / 1e6).toFixed(2)} Mbit/s)`
    : 'blackhole';
  const where = [
    s.netns && `netns=${s.netns}`, s.ifname && `if=${s.ifname.join(',')}`, s.cgroup && `cgroup=${s.cgroup}`,
    s.pid && `pid=${s.pid}`, s.proto, s.localIp && `local=${s.localIp}`, s.localPort && `lport=${s.localPort}`,
    s.remoteIp && `remote=${s.remoteIp}`, s.remotePort && `rport=${s.remotePort}`,
    s.direction && s.direction !== 'both' && s.direction, spec.allTraffic && 'ALL-TRAFFIC',
  ].filter(Boolean).join(' ');
  return `${what} [${where}]`;
}

export function tcpKnobs(spec: Extract<FaultSpec, { kind: 'tcp' }>): string[] {
  return [
    spec.nagle && 'nagle', spec.delackMaxMs && `delack-max=${spec.delackMaxMs}ms`, spec.rtoMinMs && `rto-min=${spec.rtoMinMs}ms`,
    spec.windowClamp && `window-clamp=${spec.windowClamp}`, spec.cwndClamp && `cwnd-clamp=${spec.cwndClamp}`,
    spec.rcvbuf && `rcvbuf=${spec.rcvbuf}`, spec.sndbuf && `sndbuf=${spec.sndbuf}`,
    spec.pacingRate && `pacing=${spec.pacingRate}B/s`, spec.congestion && `cc=${spec.congestion}`,
  ].filter((x): x is string => Boolean(x));
}
