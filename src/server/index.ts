// startServer: the HTTP API, live stream, metrics and the UI on node:http, over an open Store.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod/v4';
import { jsonStringify } from '../store/codec.js';
import type { Store } from '../store/types.js';
import { createIngestor, type Ingestor } from './ingest.js';
import { LiveHub } from './live.js';
import { flowCollector, MetricsRegistry, selfCollector } from './metrics.js';
import { routes, type Reply, type Route, type RouteContext } from './routes.js';
import { defaultMounts, serveStatic, type StaticMount } from './static.js';
import { closeInjection } from './ui-routes.js';

export { LiveHub, type LiveEvent } from './live.js';
export { createIngestor, type Ingestor } from './ingest.js';
export { MetricsRegistry, type Collector, type MetricFamily } from './metrics.js';
export { routes, openApiDocument } from './routes.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 7070;
const MAX_BODY = 32 * 1024 * 1024;

export interface ServerOptions {
  store: Store;
  host?: string; // default 127.0.0.1
  port?: number; // default 7070; 0 picks a free port
  token?: string; // when set, POST /api/ingest needs `Authorization: Bearer <token>`
  live?: LiveHub; // the agent publishes into it; one is created when absent
  staticMounts?: StaticMount[]; // default: web/ and vendored uPlot
  log?: (msg: string) => void;
}

export interface RunningServer {
  url: string; // http://host:port (loopback when bound to all addresses)
  port: number;
  live: LiveHub;
  ingestor: Ingestor;
  metrics: MetricsRegistry; // add collectors for more series
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

function compile(r: Route): { route: Route; re: RegExp; names: string[] } {
  const names: string[] = [];
  const re = new RegExp(
    '^' + r.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}|\{(\w+)\}/g, (_m, a: string, b: string) => (names.push(a ?? b), '([^/]+)')) + '$',
  );
  return { route: r, re, names };
}

function validate(schema: z.ZodType, value: unknown, what: string): unknown {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  throw new HttpError(400, `invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `invalid JSON body: ${(e as Error).message}`);
  }
}

function tokenOk(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!.trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: ServerResponse, reply: Reply): void {
  const status = reply.status ?? 200;
  if (reply.text !== undefined) {
    res.writeHead(status, { 'content-type': reply.contentType ?? 'text/plain; charset=utf-8' });
    res.end(reply.text);
  } else {
    const body = jsonStringify(reply.json ?? null);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const live = opts.live ?? new LiveHub();
  const ingestor = createIngestor(opts.store, live);
  const metrics = new MetricsRegistry().add(flowCollector(opts.store)).add(selfCollector(opts.store, live));
  const ctx: RouteContext = { store: opts.store, live, ingestor, metrics, startedAt: Date.now() };
  const compiled = routes.map(compile);
  const mounts = opts.staticMounts ?? defaultMounts();
  const log = opts.log ?? (() => {});
  const token = opts.token || undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const matches = compiled.map((c) => ({ c, m: c.re.exec(url.pathname) })).filter((x) => x.m);
    if (matches.length === 0) {
      if ((method === 'GET' || method === 'HEAD') && !url.pathname.startsWith('/api/') && serveStatic(mounts, url.pathname, res, method === 'HEAD')) return;
      throw new HttpError(404, `no such resource: ${url.pathname}`);
    }
    const hit = matches.find((x) => x.c.route.method === method);
    if (!hit) {
      res.setHeader('allow', matches.map((x) => x.c.route.method).join(', '));
      throw new HttpError(405, `${method} not allowed on ${url.pathname}`);
    }
    const { route, names } = hit.c;
    if (route.auth && token && !tokenOk(req.headers.authorization, token)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new HttpError(401, 'missing or wrong bearer token');
    }
    const rawParams = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(hit.m![i + 1]!)]));
    const params = route.params ? validate(z.object(route.params), rawParams, 'path') : rawParams;
    const query = route.query ? validate(route.query, Object.fromEntries(url.searchParams), 'query') : {};
    const body = route.body ? validate(route.body, await readJson(req), 'body') : undefined;
    const reply = await route.handle({ query, params, body }, ctx, { req, res });
    if (!route.stream) send(res, reply ?? { status: 204, text: '' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const he = e instanceof HttpError ? e : undefined;
      if (!he) log(`${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      if (res.headersSent) return res.destroy();
      const status = he?.status ?? 500;
      const json: Record<string, unknown> = { error: he ? he.message : `internal error: ${(e as Error)?.message ?? String(e)}` };
      if (he?.issues) json.issues = he.issues;
      send(res, { status, json });
    });
  });
  server.keepAliveTimeout = 5000;

  const host = opts.host ?? DEFAULT_HOST;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${opts.port ?? DEFAULT_PORT} on ${host} is already in use (choose another with --port)`) : e),
    );
    server.listen(opts.port ?? DEFAULT_PORT, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // bound to every address: point people at loopback, which always works from this machine
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const urlHost = shown.includes(':') ? `[${shown}]` : shown;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    live,
    ingestor,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        closeInjection(ctx); // faults the UI injected end with the server
        server.close(() => resolve());
        server.closeAllConnections(); // SSE streams never end by themselves
      }),
  };
}
