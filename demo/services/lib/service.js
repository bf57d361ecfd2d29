// The small framework every Node service of the demo shares: a router over node:http with path params,
// /health, /stats (per-route counts and latency), /admin/flags (scenario knobs), and keep-alive clients
// that propagate the gateway's X-Request-Id downstream.
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';

const requestContext = new AsyncLocalStorage();

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reads a request body (JSON when non-empty). */
async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

/**
 * createService({ name, port, flags, routes }) where routes is a list of
 * [method, '/path/:param', async (ctx) => body | { status, body } ]. ctx = { params, query, body, req, res, flags }.
 * A handler that writes to ctx.res itself returns undefined after ending it.
 */
export function createService({ name, port, host = '::', flags = {}, routes }) {
  // As real Node services do: the process name (comm) says which service this is, not just "node".
  process.title = name;
  const compiled = routes.map(([method, pattern, handler]) => {
    const keys = [];
    const re = new RegExp('^' + pattern.replace(/:([a-zA-Z]+)/g, (_, k) => (keys.push(k), '([^/]+)')) + '$');
    return { method, pattern, re, keys, handler, route: `${method} ${pattern}` };
  });
  const stats = { service: name, startedAt: new Date().toISOString(), routes: {} };
  const statFor = (route) => (stats.routes[route] ??= { count: 0, errors: 0, totalMs: 0, maxMs: 0 });

  const server = http.createServer(async (req, res) => {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'http://x');
    let route = 'unmatched';
    let status = 500;
    const requestId = req.headers['x-request-id'] ?? '';
    await requestContext.run({ requestId }, async () => {
      try {
        if (url.pathname === '/health') return send(res, 200, { ok: true, service: name });
        if (url.pathname === '/stats') return send(res, 200, { ...stats, flags });
        if (url.pathname === '/admin/flags') {
          if (req.method === 'POST') Object.assign(flags, (await readJson(req)) ?? {});
          return send(res, 200, flags);
        }
        const m = compiled.find((r) => r.method === req.method && r.re.test(url.pathname));
        if (!m) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
        route = m.route;
        const match = m.re.exec(url.pathname);
        const params = Object.fromEntries(m.keys.map((k, i) => [k, decodeURIComponent(match[i + 1])]));
        const body = req.method === 'GET' || req.method === 'DELETE' ? undefined : await readJson(req);
        const out = await m.handler({ params, query: url.searchParams, body, req, res, flags });
        if (res.writableEnded) {
          status = res.statusCode;
          return;
        }
        const isWrapped = out && typeof out === 'object' && 'status' in out && 'body' in out;
        status = isWrapped ? out.status : 200;
        send(res, status, isWrapped ? out.body : out ?? { ok: true });
      } catch (err) {
        status = err instanceof HttpError ? err.status : 500;
        if (status >= 500) console.error(`${name}: ${req.method} ${url.pathname}: ${err?.stack ?? err}`);
        if (!res.headersSent) send(res, status, { error: String(err?.message ?? err) });
        else res.destroy();
      } finally {
        if (route !== 'unmatched') {
          const s = statFor(route);
          const ms = performance.now() - t0;
          s.count++;
          if (status >= 500) s.errors++;
          s.totalMs += ms;
          s.maxMs = Math.max(s.maxMs, ms);
        }
      }
    });
  });
  // Longer than nginx's upstream keepalive_timeout, so the proxy (not us) closes idle connections.
  server.keepAliveTimeout = 300_000;
  server.headersTimeout = 310_000;
  server.listen({ port, host, backlog: Number(process.env.LISTEN_BACKLOG ?? 511) }, () => console.log(`${name} listening on [${host}]:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}

export function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** A keep-alive JSON client for one downstream service; errors carry the downstream status. */
export function client(baseUrl, { timeoutMs = 5000, maxSockets = 32 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
  const base = new URL(baseUrl);
  return function call(method, path, body) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = { accept: 'application/json' };
      const rid = requestContext.getStore()?.requestId;
      if (rid) headers['x-request-id'] = rid;
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const req = http.request({ agent, host: base.hostname, port: base.port, method, path, headers, timeout: timeoutMs }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let data;
          try {
            data = text ? JSON.parse(text) : undefined;
          } catch {
            data = text;
          }
          if ((res.statusCode ?? 500) >= 400) {
            const e = new HttpError(res.statusCode >= 500 ? 502 : res.statusCode, `${base.hostname} ${method} ${path} -> ${res.statusCode}: ${data?.error ?? data?.status ?? text.slice(0, 80)}`);
            e.downstreamStatus = res.statusCode;
            e.data = data;
            return reject(e);
          }
          resolve(data);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new HttpError(504, `${base.hostname} ${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof HttpError ? err : new HttpError(502, `${base.hostname} ${method} ${path}: ${err.code ?? err.message}`)));
      req.end(payload);
    });
  };
}

export const env = (key, dflt) => process.env[key] ?? dflt;
