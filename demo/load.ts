// The load generator: an open-loop arrival process (steady, diurnal or bursty) sending a shop-like mix
// to the gateway. Every request's client-side latency and outcome is appended as a JSON line — the
// ground truth that faultlens' own measurements are compared with.
import { Agent, request } from 'node:http';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { GATEWAY_HTTP } from './topology.js';
import { rt } from './paths.js';
import { spawnTracked } from './procs.js';
import { updateState, type TrackedProc } from './state.js';
import { seededRandom } from '../src/util/random.js';

export type Profile = 'steady' | 'diurnal' | 'bursty';
export const PROFILES: Profile[] = ['steady', 'diurnal', 'bursty'];

export function parseProfile(p: string): Profile {
  if (!(PROFILES as string[]).includes(p)) throw new Error(`unknown load profile '${p}' (one of ${PROFILES.join(', ')})`);
  return p as Profile;
}

/** Arrival rate at t seconds after start. Diurnal compresses a day into 2 minutes; bursty adds 3x spikes. */
export function rateAt(profile: Profile, rps: number, t: number): number {
  switch (profile) {
    case 'steady':
      return rps;
    case 'diurnal':
      return rps * (0.6 + 0.4 * Math.sin((2 * Math.PI * t) / 120));
    case 'bursty':
      return t % 15 < 3 ? rps * 3 : rps * 0.6;
  }
}

export interface LoadRecord {
  t: number; // epoch ms when the request was sent
  route: string; // load-generator route name (stable, used for ground truth comparisons)
  method: string;
  path: string;
  status: number; // 0 when no HTTP response (connect error, timeout)
  ms: number;
  error?: string;
}

export interface RouteSummary {
  count: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export type LoadSummary = { startedAt: string; endedAt: string; sent: number; routes: Record<string, RouteSummary> };

export const loadRecordsFile = (): string => rt('records', 'load.jsonl');
export const loadSummaryFile = (): string => rt('records', 'load-summary.json');

interface Step {
  route: string;
  method: string;
  path: string;
  body?: unknown;
}

const USERS = 40;
const CATEGORIES = ['machines', 'accessories', 'coffee', 'tea'];


/** Chooses the next request of the mix; orders only for users known to have something in their cart. */
function nextStep(usersWithCart: Set<string>, rnd: () => number): Step {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const r = rnd() * 100;
  const user = `user-${1 + Math.floor(rnd() * USERS)}`;
  if (r < 7) return { route: 'home', method: 'GET', path: '/' };
  if (r < 35) return { route: 'browse', method: 'GET', path: `/api/products?category=${pick(CATEGORIES)}&limit=20` };
  if (r < 65) return { route: 'product', method: 'GET', path: `/api/products/${1 + Math.floor(rnd() * 200)}` };
  if (r < 80 || usersWithCart.size === 0) {
    usersWithCart.add(user);
    return { route: 'cart-add', method: 'POST', path: `/api/cart/${user}/items`, body: { productId: 1 + Math.floor(rnd() * 200), qty: 1 + Math.floor(rnd() * 3) } };
  }
  if (r < 91) return { route: 'cart-view', method: 'GET', path: `/api/cart/${user}` };
  const buyer = pick([...usersWithCart]);
  usersWithCart.delete(buyer); // one order in flight per cart
  return { route: 'order', method: 'POST', path: '/api/orders', body: { user: buyer, currency: 'EUR' } };
}

function send(agent: Agent, base: URL, step: Step, timeoutMs: number): Promise<LoadRecord> {
  const t = Date.now();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const payload = step.body === undefined ? undefined : JSON.stringify(step.body);
    let settled = false;
    const done = (status: number, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({ t, route: step.route, method: step.method, path: step.path, status, ms: Math.round((performance.now() - t0) * 100) / 100, ...(error ? { error } : {}) });
    };
    const req = request(
      {
        agent, host: base.hostname, port: base.port || 80, method: step.method, path: step.path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0, (res.statusCode ?? 0) >= 500 ? `HTTP ${res.statusCode}` : undefined));
        res.on('error', (e) => done(0, e.message));
        res.on('close', () => done(0, 'response aborted'));
      },
    );
    // A hard deadline for the whole exchange (a socket idle timeout would not cover waiting for a socket).
    const deadline = setTimeout(() => {
      req.destroy();
      done(0, `timeout after ${timeoutMs} ms`);
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done(0, e.code ?? e.message));
    req.on('close', () => done(0, 'connection closed'));
    req.end(payload);
  });
}

export function summarize(records: LoadRecord[]): Record<string, RouteSummary> {
  const byRoute = new Map<string, LoadRecord[]>();
  for (const r of records) byRoute.set(r.route, [...(byRoute.get(r.route) ?? []), r]);
  const out: Record<string, RouteSummary> = {};
  for (const [route, rs] of [...byRoute].sort()) {
    const ms = rs.map((r) => r.ms).sort((a, b) => a - b);
    const q = (p: number): number => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!;
    out[route] = {
      count: rs.length,
      errors: rs.filter((r) => r.status === 0 || r.status >= 500).length,
      p50: q(0.5), p90: q(0.9), p99: q(0.99),
      mean: Math.round((ms.reduce((a, b) => a + b, 0) / ms.length) * 100) / 100,
    };
  }
  return out;
}

export interface LoadOptions {
  rps: number;
  profile: Profile;
  durationS: number; // Infinity = until signal/abort
  baseUrl?: string;
  signal?: AbortSignal;
  log?: (msg: string) => void;
  timeoutMs?: number;
  recordsFile?: string;
  onRecord?: (r: LoadRecord) => void; // e.g. the scenario runner splitting records by phase
  /** Seeds the request mix and the arrival times (same seed, same sequence); unseeded: Math.random. */
  seed?: number;
}

/** Runs the load until duration or abort; returns the per-route summary (also written next to the records). */
export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const base = new URL(opts.baseUrl ?? GATEWAY_HTTP);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const file = opts.recordsFile ?? loadRecordsFile();
  mkdirSync(rt('records'), { recursive: true });
  const out: WriteStream = createWriteStream(file, { flags: 'a' });
  const records: LoadRecord[] = [];
  const usersWithCart = new Set<string>();
  const rnd = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
  const inflight = new Set<Promise<void>>();
  const startedAt = new Date();
  const start = performance.now();
  let stop = false;
  const onSignal = (): void => {
    stop = true;
  };
  opts.signal?.addEventListener('abort', onSignal);
  const ownSignals = opts.durationS === Infinity && !opts.signal;
  if (ownSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  let lastReport = start;
  let nextAt = start;
  while (!stop) {
    const now = performance.now();
    const t = (now - start) / 1000;
    if (t >= opts.durationS) break;
    if (now < nextAt) {
      await new Promise((r) => setTimeout(r, Math.min(50, nextAt - now)));
      continue;
    }
    // Poisson arrivals: exponential gaps at the profile's current rate.
    const rate = Math.max(0.1, rateAt(opts.profile, opts.rps, t));
    nextAt += (-Math.log(1 - rnd()) / rate) * 1000;
    const step = nextStep(usersWithCart, rnd);
    const p = send(agent, base, step, opts.timeoutMs ?? 10_000).then((rec) => {
      if (rec.route === 'order' && rec.status !== 201) usersWithCart.add(String((step.body as { user: string }).user));
      records.push(rec);
      opts.onRecord?.(rec);
      out.write(JSON.stringify(rec) + '\n');
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (opts.log && now - lastReport > 10_000) {
      lastReport = now;
      const recent = records.filter((r) => r.t > Date.now() - 10_000);
      opts.log(`load: ${recent.length} requests in the last 10 s, ${recent.filter((r) => r.status === 0 || r.status >= 500).length} errors`);
    }
  }
  await Promise.all(inflight);
  opts.signal?.removeEventListener('abort', onSignal);
  if (ownSignals) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  await new Promise((r) => out.end(r));
  agent.destroy();
  const summary: LoadSummary = { startedAt: startedAt.toISOString(), endedAt: new Date().toISOString(), sent: records.length, routes: summarize(records) };
  writeFileSync(loadSummaryFile(), JSON.stringify(summary, null, 2));
  return summary;
}

/** Starts `faultlens demo load` as a tracked background process (stopped by `demo down`). */
export function startLoadInBackground(opts: { rps: number; profile: Profile }): TrackedProc {
  const entry = process.argv[1];
  if (!entry) throw new Error('cannot locate the faultlens CLI entry to start the load generator');
  const proc = spawnTracked({
    name: 'load',
    cmd: process.execPath,
    args: [...process.execArgv, entry, 'demo', 'load', '--rps', String(opts.rps), '--profile', opts.profile],
  });
  updateState((s) => {
    s.procs = s.procs.filter((p) => p.name !== 'load');
    s.procs.push(proc);
  });
  return proc;
}

export function formatSummary(s: LoadSummary): string {
  const lines = [`${s.sent} requests ${s.startedAt} .. ${s.endedAt}`, 'route       count  errors    p50 ms    p90 ms    p99 ms'];
  for (const [route, r] of Object.entries(s.routes)) {
    lines.push(`${route.padEnd(10)} ${String(r.count).padStart(6)} ${String(r.errors).padStart(7)} ${r.p50.toFixed(1).padStart(9)} ${r.p90.toFixed(1).padStart(9)} ${r.p99.toFixed(1).padStart(9)}`);
  }
  return lines.join('\n');
}
