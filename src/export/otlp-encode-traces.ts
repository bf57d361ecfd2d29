// Request records -> OTLP ExportTraceServiceRequest (opentelemetry-proto collector/trace/v1), protobuf.
// One span per record: its own ids from the trace linker, SERVER or CLIENT by the capturing end, one
// Resource per (service, host) so tracing backends group spans by the service that handled them.
// Attribute names follow the OpenTelemetry semantic conventions where one exists; the rest are faultlens.*.
import type { RequestRecord } from '../model/request.js';
import { attributes, bytes, fixed32, fixed64, hexId, message, newWriter, resource, scope, SCOPE_NAME, SCOPE_VERSION, str, tag, uvarint, type Attributes, type Writer } from './otlp-common.js';
import { createHash } from 'node:crypto';

export interface SpanInput {
  record: RequestRecord;
  host: string;
  /** Wall-clock ns of the record's start (the `requests` row's ts_ns); the record's own times are monotonic. */
  startWallNs: bigint;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_ERROR = 2;
const FLAG_SAMPLED = 1;

const DB_SYSTEMS: Record<string, string> = { postgres: 'postgresql', mysql: 'mysql', redis: 'redis' };

/** A stable id of `size` bytes derived from text (records whose linker id is missing or malformed). */
function derivedId(text: string, size: number): Uint8Array {
  return createHash('sha256').update(text).digest().subarray(0, size);
}

export function spanName(r: RequestRecord): string {
  const name = [r.method, r.endpoint].filter(Boolean).join(' ') || r.protocol;
  return name.length > 200 ? `${name.slice(0, 199)}…` : name;
}

/** The semantic-convention attributes of one record. */
export function spanAttributes(r: RequestRecord): Attributes {
  const peer = r.side === 'server' ? r.client : r.server;
  const a: Attributes = {
    'network.transport': r.proto,
    'network.protocol.name': r.protocol === 'http1' ? 'http' : r.protocol,
    'network.peer.address': peer.ip,
    'network.peer.port': peer.port,
    'server.address': r.server.ip,
    'server.port': r.server.port,
    'client.address': r.client.ip,
    'client.port': r.client.port,
    'process.pid': r.pid,
    'thread.id': r.tid,
    'process.executable.name': r.comm,
    'faultlens.client.service': r.clientService,
    'faultlens.server.service': r.serverService,
    'faultlens.flow.id': r.flowId,
    'faultlens.protocol': r.protocol,
    'faultlens.status': r.status,
    'faultlens.request.bytes': r.reqBytes,
    'faultlens.response.bytes': r.respBytes,
    'faultlens.netns': r.netns,
  };
  if (r.side === 'client') a['peer.service'] = r.serverService;
  if (r.protocol.startsWith('http')) {
    if (r.protocol === 'http1') a['network.protocol.version'] = '1.1';
    else if (r.protocol === 'http2') a['network.protocol.version'] = '2';
    a['http.request.method'] = r.method;
    a['http.route'] = r.endpoint;
    a['url.path'] = r.path;
    a['http.response.status_code'] = r.httpStatus;
  } else if (DB_SYSTEMS[r.protocol]) {
    a['db.system.name'] = DB_SYSTEMS[r.protocol];
    a['db.operation.name'] = r.method;
    a['db.query.summary'] = r.endpoint;
  } else if (r.protocol === 'dns') {
    a['dns.question.name'] = r.endpoint;
  }
  if (r.error) a['error.type'] = r.httpStatus ? String(r.httpStatus) : r.status || 'error';
  if (r.tls) a['faultlens.tls'] = true;
  if (r.incomplete) a['faultlens.incomplete'] = true;
  if (r.linkedBy) a['faultlens.link.by'] = r.linkedBy;
  if (r.linkScore !== undefined) a['faultlens.link.score'] = r.linkScore;
  if (r.tcp) {
    a['faultlens.tcp.srtt_us'] = r.tcp.srttUs;
    a['faultlens.tcp.retransmits'] = r.tcp.retransmits;
    a['faultlens.tcp.total_retrans'] = r.tcp.totalRetrans;
    a['faultlens.tcp.cwnd'] = r.tcp.cwnd;
    a['faultlens.tcp.state'] = r.tcp.state;
  }
  return a;
}

/** One Span message (without its field tag): trace_id=1 span_id=2 parent_span_id=4 name=5 kind=6 start=7
 *  end=8 attributes=9 status=15 flags=16. */
export function encodeSpan(s: SpanInput): Uint8Array {
  const w = newWriter();
  spanFields(w, s);
  return w.finish();
}

function spanFields(m: Writer, s: SpanInput): void {
  const r = s.record;
  const traceId = hexId(r.traceId, 16) ?? derivedId(`trace:${r.traceId ?? r.id}`, 16);
  const spanId = hexId(r.spanId ?? r.id, 8) ?? derivedId(`span:${r.spanId ?? r.id}`, 8);
  const parent = r.parentSpanId ? (hexId(r.parentSpanId, 8) ?? derivedId(`span:${r.parentSpanId}`, 8)) : undefined;
  const start = s.startWallNs;
  const end = start + (r.durationNs > 0n ? r.durationNs : 0n);
  bytes(m, 1, traceId);
  bytes(m, 2, spanId);
  bytes(m, 4, parent);
  str(m, 5, spanName(r));
  uvarint(m, 6, r.side === 'server' ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT);
  fixed64(m, 7, start, true);
  fixed64(m, 8, end, true);
  attributes(m, 9, spanAttributes(r));
  if (r.error) {
    // Status: message=2, code=3
    message(m, 15, (st) => {
      str(st, 2, r.errorText ?? r.status);
      uvarint(st, 3, STATUS_ERROR);
    });
  }
  fixed32(m, 16, FLAG_SAMPLED);
}

/** The service a span belongs to: the process that captured it. */
export function spanService(r: RequestRecord): string {
  return (r.side === 'server' ? r.serverService : r.clientService) || 'unknown';
}

/** ExportTraceServiceRequest { resource_spans=1 { resource=1, scope_spans=2 { scope=1, spans=2 } } }. */
export function encodeTraces(spans: SpanInput[]): Uint8Array {
  return assemble(spans, spans.map(encodeSpan));
}

/**
 * The same bytes as encodeTraces, encoded `every` spans per turn of the event loop: a batch of a few
 * hundred spans must not stall the process that also drains the kernel's ring buffers.
 */
export async function encodeTracesChunked(spans: SpanInput[], every = 64): Promise<Uint8Array> {
  const encoded: Uint8Array[] = [];
  for (let i = 0; i < spans.length; i++) {
    encoded.push(encodeSpan(spans[i]!));
    if ((i + 1) % every === 0) await new Promise((r) => setImmediate(r));
  }
  return assemble(spans, encoded);
}

/** Groups encoded spans under one Resource per (service, host). */
function assemble(spans: SpanInput[], encoded: Uint8Array[]): Uint8Array {
  const groups = new Map<string, Uint8Array[]>();
  spans.forEach((s, i) => {
    const key = `${spanService(s.record)}\0${s.host}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(encoded[i]!);
  });
  const w = newWriter();
  for (const [key, members] of groups) {
    const [service, host] = key.split('\0') as [string, string];
    message(w, 1, (rs) => {
      resource(rs, 1, { 'service.name': service, 'host.name': host, 'telemetry.sdk.name': 'faultlens' });
      message(rs, 2, (ss) => {
        scope(ss, 1, SCOPE_NAME, SCOPE_VERSION);
        for (const body of members) tag(ss, 2, 2).bytes(body);
      });
    });
  }
  return w.finish();
}
