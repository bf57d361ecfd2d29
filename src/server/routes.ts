// The HTTP API as a table of routes: method, path, schemas (validation and OpenAPI both come from
// them) and a handler. Adding an endpoint = adding an entry here.
import { z } from 'zod/v4';
import { jsonStringify } from '../store/codec.js';
import type { FlowSnapshot, Store } from '../store/types.js';
import type { Ingestor } from './ingest.js';
import type { LiveHub } from './live.js';
import type { MetricsRegistry } from './metrics.js';
import { uiRoutes } from './ui-routes.js';
import {
  ErrorResponse,
  FlowsQuery,
  FlowsResponse,
  HealthResponse,
  IngestResponse,
  IngestSchema,
  ListRecordsQuery,
  MapResponse,
  parseTime,
  RangeQuery,
  RecordsResponse,
  TableParam,
} from './wire.js';

export const VERSION = '0.1.0';

export interface RouteContext {
  store: Store;
  live: LiveHub;
  ingestor: Ingestor;
  metrics: MetricsRegistry;
  startedAt: number;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
}

export interface Route {
  method: 'GET' | 'POST';
  path: string; // OpenAPI template, e.g. /api/records/{table}
  summary: string;
  auth?: boolean; // bearer token required when the server has one
  query?: z.ZodType;
  params?: Record<string, z.ZodType>;
  body?: z.ZodType;
  response: { description: string; contentType: string; schema?: z.ZodType };
  /** Handlers get validated input; `stream` routes write the response themselves and return nothing. */
  stream?: boolean;
  handle(input: { query: any; params: any; body: any }, ctx: RouteContext, raw: { req: import('node:http').IncomingMessage; res: import('node:http').ServerResponse }): Promise<Reply | void>;
}

const json = (schema: z.ZodType, description: string) => ({ description, contentType: 'application/json', schema });

function range(q: { from: string; to: string }) {
  const nowMs = Date.now();
  return { fromNs: parseTime(q.from, nowMs), toNs: parseTime(q.to, nowMs) };
}

/** JSON-ready flow (64-bit values become strings in jsonStringify). */
const flowsReply = (r: { fromNs: bigint; toNs: bigint }, flows: FlowSnapshot[]) => ({ json: { fromNs: r.fromNs, toNs: r.toNs, flows } });

export function buildMap(edges: Awaited<ReturnType<Store['edgeTotals']>>) {
  const nodes = new Map<string, { id: string; label: string; kind: 'process' | 'ip'; ips: Set<string> }>();
  const node = (label: string, ip: string) => {
    const kind = label === ip ? 'ip' : 'process';
    const id = `${kind}:${label}`;
    let n = nodes.get(id);
    if (!n) nodes.set(id, (n = { id, label, kind, ips: new Set() }));
    n.ips.add(ip);
    return id;
  };
  const outEdges = edges.map((e) => ({
    source: node(e.client, e.clientIp),
    target: node(e.server, e.serverIp),
    port: e.serverPort,
    proto: e.proto,
    flows: e.flows,
    bytesClientToServer: e.bytesClientToServer,
    bytesServerToClient: e.bytesServerToClient,
    calls: e.calls,
    errors: e.errors,
  }));
  return { nodes: [...nodes.values()].map((n) => ({ ...n, ips: [...n.ips].sort() })), edges: outEdges };
}

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/api/health',
    summary: 'Liveness, version and store state',
    response: json(HealthResponse, 'server health'),
    async handle(_i, ctx) {
      return {
        json: {
          status: 'ok',
          version: VERSION,
          uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
          store: ctx.store.stats(),
          liveSubscribers: ctx.live.subscribers,
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/flows',
    summary: 'Newest snapshot of each flow seen in a time range, filtered, sorted by bytes or recency',
    query: FlowsQuery,
    response: json(FlowsResponse, 'flows'),
    async handle({ query: q }, ctx) {
      const { from, to, order, limit, ...filters } = q;
      const r = range(q);
      return flowsReply(r, await ctx.store.queryFlows({ ...r, ...filters, order, limit }));
    },
  },
  {
    method: 'GET',
    path: '/api/flows/top',
    summary: 'Top flows by bytes in a time range',
    query: RangeQuery.extend({ limit: FlowsQuery.shape.limit }).strict(),
    response: json(FlowsResponse, 'flows, biggest first'),
    async handle({ query: q }, ctx) {
      const r = range(q);
      return flowsReply(r, await ctx.store.topFlowsByBytes(r, q.limit));
    },
  },
  {
    method: 'GET',
    path: '/api/map',
    summary: 'Service/host map: processes and IPs as nodes, flows aggregated into edges',
    query: RangeQuery.strict(),
    response: json(MapResponse, 'nodes and edges'),
    async handle({ query: q }, ctx) {
      return { json: buildMap(await ctx.store.edgeTotals(range(q))) };
    },
  },
  {
    method: 'GET',
    path: '/api/records/{table}',
    summary: 'Rows of a record table (tcp_samples, requests, business_events, findings, alerts, faults) in a time range, newest first',
    params: { table: TableParam },
    query: ListRecordsQuery,
    response: json(RecordsResponse, 'rows'),
    async handle({ query: q, params }, ctx) {
      const { from, to, ...rest } = q;
      return { json: { table: params.table, rows: await ctx.store.list(params.table, { ...range(q), ...rest }) } };
    },
  },
  {
    method: 'POST',
    path: '/api/ingest',
    summary: 'Agent ingest: a batch of records from one host; answers once they are durable',
    auth: true,
    body: IngestSchema,
    response: json(IngestResponse, 'counts accepted per table'),
    async handle({ body }, ctx) {
      const r = ctx.ingestor.ingestWire(body);
      try {
        await r.durable;
      } catch (e) {
        // values the columns cannot hold are the sender's fault; anything else is ours
        if (e instanceof TypeError || e instanceof RangeError) return { status: 400, json: { error: `invalid record: ${e.message}` } };
        throw e;
      }
      return { json: { accepted: r.accepted } };
    },
  },
  {
    method: 'GET',
    path: '/api/live',
    summary: 'Server-sent events: `flows` and `records` events as they are ingested',
    stream: true,
    response: { description: 'text/event-stream; each event data is one JSON object', contentType: 'text/event-stream' },
    async handle(_i, ctx, { req, res }) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ version: VERSION })}\n\n`);
      const unsubscribe = ctx.live.subscribe((e) => {
        // a client that stops reading is cut off rather than buffered without bound
        if (res.writableLength > 4 * 1024 * 1024) return res.destroy();
        const { type, ...data } = e;
        res.write(`event: ${type}\ndata: ${jsonStringify(data)}\n\n`);
      });
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      ping.unref();
      const done = () => {
        clearInterval(ping);
        unsubscribe();
      };
      req.on('close', done);
      res.on('close', done);
    },
  },
  ...uiRoutes,
  {
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus text exposition: flow bytes/calls/errors per edge, store and live state',
    response: { description: 'Prometheus text format 0.0.4', contentType: 'text/plain; version=0.0.4' },
    async handle(_i, ctx) {
      return { text: await ctx.metrics.render(), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
    },
  },
  {
    method: 'GET',
    path: '/api/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    response: { description: 'OpenAPI document', contentType: 'application/json' },
    async handle() {
      return { json: openApiDocument() };
    },
  },
];

let cachedDoc: unknown;

export function openApiDocument(): unknown {
  if (cachedDoc) return cachedDoc;
  const schema = (s: z.ZodType, io: 'input' | 'output') => {
    const { $schema, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
    return rest;
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: unknown[] = [];
    for (const [name, s] of Object.entries(r.params ?? {})) parameters.push({ name, in: 'path', required: true, schema: schema(s, 'input') });
    if (r.query) {
      const js = schema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {}))
        parameters.push({ name, in: 'query', required: js.required?.includes(name) ?? false, schema: s });
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      responses: {
        200: { description: r.response.description, content: { [r.response.contentType]: r.response.schema ? { schema: schema(r.response.schema, 'input') } : {} } }, // 'input': the wire form (64-bit as strings)
        ...(r.query || r.body || r.params ? { 400: { description: 'invalid input', content: { 'application/json': { schema: schema(ErrorResponse, 'output') } } } } : {}),
        ...(r.auth ? { 401: { description: 'missing or wrong bearer token (when the server has one)' } } : {}),
      },
    };
    if (parameters.length) op.parameters = parameters;
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } };
    if (r.auth) op.security = [{ bearer: [] }];
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  cachedDoc = {
    openapi: '3.1.0',
    info: { title: 'faultlens', version: VERSION, description: '64-bit integers (ns timestamps, socket cookies, cgroup ids) are decimal strings.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
  return cachedDoc;
}
