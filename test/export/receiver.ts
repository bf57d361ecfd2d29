// A real HTTP receiver on loopback for export tests: records every POST, answers as the test says, and
// decodes OTLP bodies with the OpenTelemetry protos as compiled by the OpenTelemetry JS project
// (@opentelemetry/otlp-transformer's generated protobufjs module) — independent of faultlens's encoder.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import root from '@opentelemetry/otlp-transformer/build/src/generated/root.js';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  atMs: number;
}

/** What to answer: a status (and headers), or 'hold' to keep the request open until release(). */
export type Responder = (r: Received, index: number) => { status: number; headers?: Record<string, string> } | 'hold';

export interface Receiver {
  url: string;
  received: Received[];
  respond: Responder;
  /** Answers every held request with 200. */
  release(): void;
  close(): Promise<void>;
  /** Resolves when `pred` holds (checked on every POST and every 50 ms), rejects after `timeoutMs`. */
  until(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export async function startReceiver(respond: Responder = () => ({ status: 200 })): Promise<Receiver> {
  const held: ServerResponse[] = [];
  const r: Receiver = {
    url: '',
    received: [],
    respond,
    release() {
      for (const res of held.splice(0)) res.writeHead(200).end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        r.release();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    async until(pred, timeoutMs = 15_000, what = 'condition') {
      const end = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${r.received.length} POSTs received)`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), atMs: Date.now() };
      const index = r.received.push(got) - 1;
      const a = r.respond(got, index);
      if (a === 'hold') held.push(res);
      else res.writeHead(a.status, a.headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

// ---- OTLP decoding with the official protos -------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const pb = (root as any).opentelemetry.proto;
const TO_OBJECT = { longs: String, bytes: String, enums: String, defaults: false, oneofs: true };

type AnyValue = { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
type KV = { key: string; value?: AnyValue };

export type Attrs = Record<string, string | number | boolean>;

function attrs(list: KV[] | undefined): Attrs {
  const out: Attrs = {};
  for (const { key, value: v } of list ?? []) {
    if (!v) continue;
    out[key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue ?? '';
  }
  return out;
}

const hex = (b64: string | undefined) => (b64 ? Buffer.from(b64, 'base64').toString('hex') : undefined);

export interface DecodedSpan {
  resource: Attrs;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Attrs;
  status: { code?: string; message?: string };
}

export function decodeTraces(body: Buffer): DecodedSpan[] {
  const T = pb.collector.trace.v1.ExportTraceServiceRequest;
  const o = T.toObject(T.decode(body), TO_OBJECT);
  const out: DecodedSpan[] = [];
  for (const rs of o.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          resource: attrs(rs.resource?.attributes),
          scope: ss.scope?.name ?? '',
          traceId: hex(s.traceId)!,
          spanId: hex(s.spanId)!,
          ...(s.parentSpanId ? { parentSpanId: hex(s.parentSpanId)! } : {}),
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          status: s.status ?? {},
        });
      }
    }
  }
  return out;
}

export interface DecodedPoint {
  attributes: Attrs;
  value?: number; // sum / gauge
  count?: number; // summary
  sum?: number;
  quantiles?: Record<string, number>;
  startNs: bigint;
  timeNs: bigint;
}

export interface DecodedMetric {
  resource: Attrs;
  name: string;
  unit: string;
  type: 'sum' | 'gauge' | 'summary' | 'histogram' | 'other';
  monotonic?: boolean;
  temporality?: string;
  points: DecodedPoint[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function point(p: any): DecodedPoint {
  const base = { attributes: attrs(p.attributes), startNs: BigInt(p.startTimeUnixNano ?? 0), timeNs: BigInt(p.timeUnixNano ?? 0) };
  if (p.quantileValues !== undefined || p.count !== undefined) {
    return { ...base, count: Number(p.count ?? 0), sum: p.sum ?? 0, quantiles: Object.fromEntries((p.quantileValues ?? []).map((q: { quantile?: number; value?: number }) => [String(q.quantile ?? 0), q.value ?? 0])) };
  }
  return { ...base, value: p.asInt !== undefined ? Number(p.asInt) : p.asDouble };
}

export function decodeMetrics(body: Buffer): DecodedMetric[] {
  const M = pb.collector.metrics.v1.ExportMetricsServiceRequest;
  const o = M.toObject(M.decode(body), TO_OBJECT);
  const out: DecodedMetric[] = [];
  for (const rm of o.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const resource = attrs(rm.resource?.attributes);
        const common = { resource, name: m.name, unit: m.unit ?? '' };
        if (m.sum) out.push({ ...common, type: 'sum', monotonic: !!m.sum.isMonotonic, temporality: m.sum.aggregationTemporality, points: (m.sum.dataPoints ?? []).map(point) });
        else if (m.gauge) out.push({ ...common, type: 'gauge', points: (m.gauge.dataPoints ?? []).map(point) });
        else if (m.summary) out.push({ ...common, type: 'summary', points: (m.summary.dataPoints ?? []).map(point) });
        else out.push({ ...common, type: m.histogram ? 'histogram' : 'other', points: [] });
      }
    }
  }
  return out;
}
