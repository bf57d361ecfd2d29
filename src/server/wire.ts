// JSON shapes on the wire, as zod schemas (validation + the OpenAPI document come from the same source).
// 64-bit values (ns timestamps, socket cookies, cgroup ids) travel as decimal strings; numbers are
// accepted on input when they are safe integers.
import { z } from 'zod/v4';
import { TABLE_NAMES } from '../store/schema.js';
import type { FlowSnapshot } from '../store/types.js';

export const Int64 = z
  .union([z.string().regex(/^-?\d{1,20}$/, 'expected a decimal integer string'), z.number().int()])
  .transform((v) => BigInt(v));

const EndpointSchema = z.object({ ip: z.string().min(1).max(64), port: z.number().int().min(0).max(65535) });
const ProcSchema = z.object({ pid: z.number().int().min(0), comm: z.string().max(64), cgroupId: Int64 });

export const FlowSchema = z.object({
  id: z.string().min(1).max(512),
  host: z.string().min(1).max(255).optional().describe('defaults to the batch host'),
  tsNs: Int64.describe('wall-clock ns of the snapshot'),
  netns: z.number().int().min(0),
  proto: z.enum(['tcp', 'udp']),
  client: EndpointSchema,
  server: EndpointSchema,
  clientProc: ProcSchema.optional(),
  serverProc: ProcSchema.optional(),
  socketCookies: z.array(Int64).max(64),
  firstSeenNs: Int64,
  lastSeenNs: Int64,
  closedNs: Int64.optional(),
  bytesClientToServer: z.number().int().min(0),
  bytesServerToClient: z.number().int().min(0),
  callsClientToServer: z.number().int().min(0),
  callsServerToClient: z.number().int().min(0),
  errors: z.record(z.string(), z.number().int().min(0)),
  durationNs: Int64.optional(),
  clientNetns: z.number().int().min(0).optional(),
  serverNetns: z.number().int().min(0).optional(),
  syscalls: z.array(z.string().max(32)).max(64).optional(),
});

const RowSchema = z.looseObject({ ts_ns: Int64 }).describe('columns of the table; 64-bit columns as decimal strings');

export const RECORD_TABLES = TABLE_NAMES.filter((t) => t !== 'flows') as Exclude<(typeof TABLE_NAMES)[number], 'flows'>[];

export const IngestSchema = z
  .object({
    host: z.string().min(1).max(255).describe('the agent host these records come from'),
    flows: z.array(FlowSchema).max(100_000).optional(),
    ...Object.fromEntries(RECORD_TABLES.map((t) => [t, z.array(RowSchema).max(100_000).optional()])),
  })
  .strict();

export type IngestBody = z.output<typeof IngestSchema>;

export function flowFromWire(f: z.output<typeof FlowSchema>, host: string): FlowSnapshot {
  const { host: h, ...rest } = f;
  const out = { ...rest, host: h ?? host } as FlowSnapshot;
  if (out.clientProc === undefined) delete out.clientProc;
  if (out.serverProc === undefined) delete out.serverProc;
  for (const k of ['closedNs', 'durationNs', 'clientNetns', 'serverNetns', 'syscalls'] as const) if (out[k] === undefined) delete out[k];
  return out;
}

// Times in queries: "now", "now-15m" (s, m, h, d), epoch milliseconds, or an ISO 8601 date.
const TIME_RE = /^(now(-\d+(\.\d+)?[smhd])?|\d{10,16}|\d{4}-\d\d-\d\d([T ][\d:.]+)?(Z|[+-]\d\d:?\d\d)?)$/;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

export function parseTime(s: string, nowMs = Date.now()): bigint {
  if (s === 'now') return BigInt(nowMs) * 1_000_000n;
  const rel = /^now-(\d+(?:\.\d+)?)([smhd])$/.exec(s);
  if (rel) return BigInt(Math.round(nowMs - Number(rel[1]) * UNIT_MS[rel[2]!]!)) * 1_000_000n;
  if (/^\d+$/.test(s)) return BigInt(s) * 1_000_000n;
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new Error(`invalid time "${s}"`);
  return BigInt(ms) * 1_000_000n;
}

const TimeParam = z
  .string()
  .regex(TIME_RE, 'expected now, now-<n><s|m|h|d>, epoch milliseconds or an ISO date')
  .refine((s) => s.startsWith('now') || /^\d+$/.test(s) || !Number.isNaN(Date.parse(s)), 'not a valid date');

const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const RangeQuery = z.object({
  from: TimeParam.default('now-15m'),
  to: TimeParam.default('now'),
});

export const FlowsQuery = RangeQuery.extend({
  host: z.string().min(1).max(255).optional(),
  netns: intParam(0, 2 ** 32 - 1).optional(),
  pid: intParam(0, 2 ** 31 - 1).optional(),
  port: intParam(0, 65535).optional(),
  ip: z
    .string()
    .regex(/^[0-9a-fA-F.:]{2,45}$/, 'expected an IPv4 or IPv6 address')
    .optional(),
  comm: z.string().min(1).max(64).optional(),
  order: z.enum(['bytes', 'recent']).default('bytes'),
  limit: intParam(1, 10_000).default(1000),
}).strict();

export const ListRecordsQuery = RangeQuery.extend({
  host: z.string().min(1).max(255).optional(),
  limit: intParam(1, 10_000).default(500),
}).strict();

export const TableParam = z.enum(RECORD_TABLES);

// Response shapes (documentation; 64-bit values are strings in responses)
const FlowOut = FlowSchema.required({ host: true });
export const FlowsResponse = z.object({ fromNs: z.string(), toNs: z.string(), flows: z.array(FlowOut) }).describe('the resolved range as wall-clock ns');
export const MapResponse = z.object({
  nodes: z.array(z.object({ id: z.string(), label: z.string(), kind: z.enum(['process', 'ip']), ips: z.array(z.string()) })),
  edges: z.array(
    z.object({
      source: z.string(),
      target: z.string(),
      port: z.number(),
      proto: z.string(),
      flows: z.number(),
      bytesClientToServer: z.string(),
      bytesServerToClient: z.string(),
      calls: z.string(),
      errors: z.string(),
    }),
  ),
});
export const RecordsResponse = z.object({ table: z.string(), rows: z.array(z.record(z.string(), z.unknown())) });
export const IngestResponse = z.object({ accepted: z.record(z.string(), z.number()) });
export const HealthResponse = z.object({
  status: z.literal('ok'),
  version: z.string(),
  uptimeSeconds: z.number(),
  store: z.record(z.string(), z.unknown()),
  liveSubscribers: z.number(),
});
export const ErrorResponse = z.object({ error: z.string(), issues: z.array(z.object({ path: z.string(), message: z.string() })).optional() });
