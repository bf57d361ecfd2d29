// Records real per-second series of the demo shop while a scenario runs (or during a fault-free period),
// as a gzipped series file the RCA bench replays (src/rca/series-file.ts, format 2). Every signal is measured
// on the real kernel — nothing is synthesised:
//   request durations/failures (5xx, protocol errors; not 4xx) per second per endpoint (server view) and per edge (client view): SockCollector ->
//     ApmPipeline request records, stored raw per second ('req' lines); the replay derives the RED windows
//   retransmits/resets per edge: TcpCollector connection samples (client ends), deltas per second
//   listen_queue fill per service: TcpCollector listener samples
//   listen_overflows per host: the netns' TcpExtListenOverflows counter (/proc/PID/net/netstat of a process in it)
//   runq (ms waited for a CPU per s) and io_latency (p99 ms) per service: SysioCollector, by cgroup
// Needs root and `faultlens demo up`. Usage:
//   node --import tsx bench/rca/record.ts --scenario slow-endpoint [--out FILE.jsonl.gz] [--seed N] [--baseline 40 --fault 25 --recovery 15 --rps 20]
//   node --import tsx bench/rca/record.ts --fault-free 300 [--out FILE.jsonl.gz] [--seed N]
import { appendFileSync, createWriteStream, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { createGzip, gzipSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { SockCollector } from '../../src/collect/sock-collector.js';
import { TcpCollector } from '../../src/collect/tcp-collector.js';
import { SysioCollector } from '../../src/collect/sysio-collector.js';
import { SysioSampler } from '../../src/collect/sysio-view.js';
import { ApmPipeline, monoToWallOffsetNs } from '../../src/correlate/apm.js';
import { ServiceResolver } from '../../src/correlate/services.js';
import { entityId } from '../../src/detect/anomaly/entity.js';
import type { SeriesPoint } from '../../src/detect/anomaly/detector.js';
import type { RequestRecord } from '../../src/model/request.js';
import { isFailure, normaliseEndpoint } from '../../src/rca/red-series.js';
import { HOSTS, SERVICES, hostByNs } from '../../demo/topology.js';
import { runScenario } from '../../demo/scenarios/runner.js';
import { runLoad } from '../../demo/load.js';

const DEMO = new Set<string>(SERVICES.map((s) => s.name));
// A call that never became a request (refused, reset, timed out) is still an error on the edge.
const CONN_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const byAddr = new Map<string, string>();
for (const s of SERVICES) for (const p of s.ports) byAddr.set(`${hostByNs(s.ns).ip}:${p}`, s.name);

const LAG_S = 4; // a second is emitted this long after it ended: request records arrive after the linker settles
// Golden signals per second over a sliding window of this many seconds (applied at replay, red-series.ts):
// at demo rates most endpoints see 1-3 requests a second; 5 s windows give the detectors 5-15 requests per sample.
const WINDOW_S = 5;

/** TcpExtListenOverflows of a network namespace, read through /proc/PID/net/netstat of a process inside it. */
export class NetnsCounter {
  private pid: number | undefined;
  private readonly ino: number;
  constructor(readonly ns: string) {
    this.ino = statSync(`/run/netns/${ns}`).ino;
  }

  private findPid(): number | undefined {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readlinkSync(`/proc/${d}/ns/net`) === `net:[${this.ino}]`) return Number(d);
      } catch { /* exited */ }
    }
    return undefined;
  }

  read(name: string): number | undefined {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        if (this.pid === undefined || readlinkSync(`/proc/${this.pid}/ns/net`) !== `net:[${this.ino}]`) this.pid = this.findPid();
        if (this.pid === undefined) return undefined;
        const lines = readFileSync(`/proc/${this.pid}/net/netstat`, 'utf8').split('\n');
        for (let i = 0; i + 1 < lines.length; i += 2) {
          const keys = lines[i]!.split(/\s+/);
          const vals = lines[i + 1]!.split(/\s+/);
          const j = keys.indexOf(name);
          if (j > 0 && keys[0] === 'TcpExt:') return Number(vals[j]);
        }
        return undefined;
      } catch {
        this.pid = undefined; // the process went away between the checks: look again
      }
    }
    return undefined;
  }
}

export interface RecorderOptions {
  out: string;
  meta: Record<string, unknown>;
  log: (m: string) => void;
}

export class DemoRecorder {
  private readonly apm: ApmPipeline;
  private readonly sock: SockCollector;
  private readonly tcp: TcpCollector | undefined;
  private readonly sysio: SysioCollector | undefined;
  private readonly sampler = new SysioSampler();
  private readonly resolver = new ServiceResolver();
  private readonly offset = monoToWallOffsetNs();
  private readonly buckets = new Map<number, Map<string, { durs: number[]; errs: number; connErrs: number }>>();
  private readonly knownEdges = new Set<string>();
  private readonly prevConn = new Map<bigint, { retrans: number; resets: number }>();
  private readonly netns: { counter: NetnsCounter; entity: string; prev?: number }[] = [];
  private readonly out;
  private readonly file;
  private timer: NodeJS.Timeout | undefined;
  private lastEmitted = 0;
  readonly signals: Record<string, string> = {};
  points = 0;

  constructor(private readonly o: RecorderOptions) {
    mkdirSync(dirname(o.out), { recursive: true });
    this.file = createWriteStream(o.out);
    this.out = o.out.endsWith('.gz') ? createGzip({ level: 9 }) : undefined;
    this.out?.pipe(this.file);
    this.apm = new ApmPipeline({ services: this.resolver });
    this.sock = SockCollector.start({ payloadBytes: 1024, onEvent: (ev) => {
      this.apm.onEvent(ev);
      if (ev.ret < 0 && ev.errno && CONN_ERRORS.has(ev.errno) && ev.role !== 'server') this.connError(ev.pid, ev.comm, `${ev.remote.ip}:${ev.remote.port}`, ev.tsNs);
    }, onWarning: () => {} });
    this.signals.latency = this.signals.errors = this.signals.rate = 'real: SockCollector -> ApmPipeline request records (endpoint: server side, edge: client side); edge errors also count failed connections (ECONNREFUSED, ...)';
    try {
      this.tcp = new TcpCollector().start();
      this.signals.retransmits = this.signals.resets = 'real: TcpCollector connection samples (client ends), per-second deltas';
      this.signals.listen_queue = 'real: TcpCollector listener samples (accept-queue fill at the newest listener event)';
    } catch (e) {
      o.log(`tcp collector unavailable: ${(e as Error).message}`);
    }
    try {
      this.sysio = new SysioCollector({ slowIoNs: 0 }).start();
      this.signals.runq = this.signals.io_latency = 'real: SysioCollector per-process run-queue and block-IO latency, summed per service cgroup';
    } catch (e) {
      o.log(`sysio collector unavailable: ${(e as Error).message}`);
    }
    for (const h of HOSTS) {
      const svcs = SERVICES.filter((x) => x.ns === h.ns).map((x) => x.name);
      try {
        // one service per host: its listen queue; several: the host (the netns counter cannot tell them apart)
        const entity = svcs.length === 1 ? entityId({ kind: 'resource', resource: 'listen-queue', service: svcs[0]! }) : entityId({ kind: 'host', host: h.ns });
        this.netns.push({ counter: new NetnsCounter(h.ns), entity });
      } catch (e) {
        o.log(`netns ${h.ns}: ${(e as Error).message}`);
      }
    }
    if (this.netns.length) this.signals.listen_overflows = 'real: TcpExtListenOverflows of each demo netns per second (/proc/PID/net/netstat)';
    this.write({ type: 'meta', format: 2, ...o.meta, signals: this.signals, startedAt: new Date().toISOString() });
    for (const h of HOSTS) this.write({ type: 'host', host: h.ns, services: SERVICES.filter((s) => s.ns === h.ns).map((s) => s.name) });
    this.sampleSystem(Date.now()); // first sysio/tcp sample primes the deltas
    this.timer = setInterval(() => this.tick(), 1000);
  }

  private write(o: unknown): void {
    (this.out ?? this.file).write(JSON.stringify(o) + '\n');
  }

  private point(p: SeriesPoint): void {
    this.points++;
    this.write({ type: 'point', ...p });
  }

  private add(r: RequestRecord): void {
    const endMs = Number((r.endNs + this.offset) / 1_000_000n);
    const sec = Math.floor(endMs / 1000);
    if (sec <= this.lastEmitted) return; // too late for its second
    const label = normaliseEndpoint(r.endpoint.startsWith(`${r.method} `) || !r.method ? r.endpoint : `${r.method} ${r.endpoint}`);
    const keys: string[] = [];
    if (r.side === 'server' && DEMO.has(r.serverService)) keys.push(entityId({ kind: 'endpoint', service: r.serverService, endpoint: label }));
    if (r.side === 'client' && DEMO.has(r.clientService) && DEMO.has(r.serverService) && r.clientService !== r.serverService) {
      keys.push(entityId({ kind: 'edge', from: r.clientService, to: r.serverService }));
      this.knownEdges.add(`${r.clientService}>${r.serverService}`);
    }
    let b = this.buckets.get(sec);
    if (!b) this.buckets.set(sec, (b = new Map()));
    for (const k of keys) {
      let e = b.get(k);
      if (!e) b.set(k, (e = { durs: [], errs: 0, connErrs: 0 }));
      e.durs.push(Number(r.durationNs) / 1e6);
      if (isFailure(r)) e.errs++; // 4xx (declined, not found) are not failures
    }
  }

  private connError(pid: number, comm: string, remote: string, tsNs: bigint): void {
    const to = byAddr.get(remote);
    const from = this.resolver.ofProcess(pid, comm);
    if (!to || !DEMO.has(from) || from === to) return;
    const sec = Math.floor(Number((tsNs + this.offset) / 1_000_000n) / 1000);
    if (sec <= this.lastEmitted) return;
    const k = entityId({ kind: 'edge', from, to });
    this.knownEdges.add(`${from}>${to}`);
    let b = this.buckets.get(sec);
    if (!b) this.buckets.set(sec, (b = new Map()));
    let e = b.get(k);
    if (!e) b.set(k, (e = { durs: [], errs: 0, connErrs: 0 }));
    e.connErrs++;
  }

  private sampleSystem(nowMs: number): SeriesPoint[] {
    const t = nowMs;
    const pts: SeriesPoint[] = [];
    if (this.tcp) {
      const edges = new Map<string, { retrans: number; resets: number }>();
      for (const c of this.tcp.readConns()) {
        if (c.role !== 'client') continue;
        const to = byAddr.get(`${c.remote.ip}:${c.remote.port}`);
        if (!to) continue;
        const from = this.resolver.ofProcess(c.pid, c.comm);
        if (!DEMO.has(from) || from === to) continue;
        const cur = { retrans: c.totalRetrans, resets: c.resetsRecv + c.resetsSent };
        const prev = this.prevConn.get(c.sockId) ?? { retrans: 0, resets: 0 };
        this.prevConn.set(c.sockId, cur);
        const k = `${from}>${to}`;
        const e = edges.get(k) ?? { retrans: 0, resets: 0 };
        e.retrans += Math.max(0, cur.retrans - prev.retrans);
        e.resets += Math.max(0, cur.resets - prev.resets);
        edges.set(k, e);
        this.knownEdges.add(k);
      }
      for (const k of this.knownEdges) {
        const [from, to] = k.split('>') as [string, string];
        const e = edges.get(k) ?? { retrans: 0, resets: 0 };
        pts.push({ t, entity: entityId({ kind: 'edge', from, to }), signal: 'retransmits', value: e.retrans });
        pts.push({ t, entity: entityId({ kind: 'edge', from, to }), signal: 'resets', value: e.resets });
      }
      const lq = new Map<string, number>();
      for (const l of this.tcp.readListeners()) {
        if (l.closedNs) continue;
        const svc = SERVICES.find((s) => s.ports.includes(l.local.port) && (l.local.ip === hostByNs(s.ns).ip || l.local.ip === '0.0.0.0' || l.local.ip === '::'));
        if (!svc) continue;
        lq.set(svc.name, Math.max(lq.get(svc.name) ?? 0, l.maxAckBacklog ? l.ackBacklog / l.maxAckBacklog : 0)); // now, not the all-time peak
      }
      for (const [svc, fill] of lq) pts.push({ t, entity: entityId({ kind: 'resource', resource: 'listen-queue', service: svc }), signal: 'listen_queue', value: Math.min(1, fill), limit: 1 });
    }
    for (const n of this.netns) {
      const v = n.counter.read('ListenOverflows');
      if (v === undefined) continue;
      if (n.prev !== undefined) pts.push({ t, entity: n.entity, signal: 'listen_overflows', value: Math.max(0, v - n.prev) });
      n.prev = v;
    }
    if (this.sysio) {
      const v = this.sampler.sample(this.sysio.readProcs(), this.sysio.readIo());
      const per = new Map<string, { runqNs: number; ioP99: number; ioOps: number }>();
      for (const p of v.procs) {
        const svc = this.resolver.ofProcess(p.pid, p.comm);
        if (!DEMO.has(svc)) continue;
        const e = per.get(svc) ?? { runqNs: 0, ioP99: 0, ioOps: 0 };
        e.runqNs += p.runqWaitNs;
        if (p.ioOps) {
          e.ioOps += p.ioOps;
          e.ioP99 = Math.max(e.ioP99, (p.ioP99Ns ?? 0) / 1e6);
        }
        per.set(svc, e);
      }
      const k = 1e9 / v.intervalNs;
      for (const svc of DEMO) {
        const e = per.get(svc) ?? { runqNs: 0, ioP99: 0, ioOps: 0 };
        pts.push({ t, entity: entityId({ kind: 'resource', resource: 'cpu', service: svc }), signal: 'runq', value: (e.runqNs * k) / 1e6 });
        if (e.ioOps) pts.push({ t, entity: entityId({ kind: 'resource', resource: 'disk', service: svc }), signal: 'io_latency', value: e.ioP99, count: e.ioOps });
      }
    }
    return pts;
  }

  private tick(): void {
    try {
      this.sock.drain();
      for (const r of this.apm.tick()) this.add(r);
      const now = Date.now();
      for (const p of this.sampleSystem(now)) this.point(p);
      const upTo = Math.floor(now / 1000) - LAG_S;
      // every second exactly once, in order (idle seconds too: they carry the zero rates)
      const from = this.lastEmitted ? this.lastEmitted + 1 : Math.min(upTo, ...this.buckets.keys());
      for (let s = from; s <= upTo; s++) this.emit(s);
      this.lastEmitted = Math.max(this.lastEmitted, upTo);
      this.tcp?.pruneClosed(process.hrtime.bigint() - 10_000_000_000n);
      this.sysio?.pruneExited();
    } catch (e) {
      this.o.log(`recorder tick: ${(e as Error).message}`);
    }
  }

  /** One second's raw figures per entity (durations to 0.01 ms); the replay windows them (RedWindows). */
  private emit(sec: number): void {
    const b = this.buckets.get(sec) ?? new Map();
    this.buckets.delete(sec);
    for (const [k, e] of b) {
      this.points++;
      this.write({ type: 'req', s: sec, e: k, d: e.durs.map((d: number) => Math.round(d * 100) / 100), x: e.errs, ...(e.connErrs ? { c: e.connErrs } : {}) });
    }
    this.write({ type: 'tick', s: sec });
  }

  async close(extra: unknown[] = []): Promise<void> {
    clearInterval(this.timer);
    await new Promise((r) => setTimeout(r, (LAG_S + 1) * 1000)); // let the last seconds settle
    this.tick();
    this.sock.close();
    this.tcp?.close();
    this.sysio?.close();
    for (const k of this.knownEdges) {
      const [from, to] = k.split('>');
      this.write({ type: 'edge', from, to });
    }
    for (const x of extra) this.write(x);
    await new Promise<void>((r) => {
      this.file.once('close', () => r());
      (this.out ?? this.file).end();
    });
  }
}

// The collectors run in a child process: they decode every socket event of the machine, and sharing an
// event loop with the load generator would bend the load generator's client-side latency (the ground truth).
async function collectChild(out: string, meta: Record<string, unknown>): Promise<void> {
  const log = (m: string) => console.error(`[record ${String(meta.scenario)}#${String(meta.run)}] ${m}`);
  const rec = new DemoRecorder({ out, meta, log });
  console.log('ready');
  await new Promise<void>((resolve) => process.on('SIGINT', () => resolve())); // 'on': the kernel cleanup hook defers to an app handler
  await rec.close();
  log(`${rec.points} points -> ${out}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt?: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const collect = opt('collect');
  if (collect) return collectChild(collect, JSON.parse(opt('meta', '{}')!));
  const scenario = opt('scenario');
  const faultFree = opt('fault-free');
  if (!scenario && !faultFree) throw new Error('usage: record.ts --scenario NAME | --fault-free SECONDS [--out FILE] [--run N]');
  const run = Number(opt('run', '1'));
  const name = scenario ?? 'fault-free';
  const out = opt('out', join('bench/rca/data', `${name}-${run}.jsonl.gz`))!;
  const rps = Number(opt('rps', '20'));
  const seedOpt = opt('seed');
  const seed = seedOpt === undefined ? undefined : Number(seedOpt);
  if (seed !== undefined && !Number.isInteger(seed)) throw new Error(`--seed must be an integer, got '${seedOpt}'`);
  const log = (m: string) => console.error(`[record ${name}#${run}] ${m}`);
  const meta = { scenario: name, run, rps, ...(seed !== undefined ? { seed } : {}), emitLagS: LAG_S, windowS: WINDOW_S, collector: 'child process' };
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--collect', out, '--meta', JSON.stringify(meta)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    void exited.then((code) => reject(new Error(`the collector exited (${code}) before it was ready`)));
  });
  let truth: unknown;
  try {
    if (scenario) {
      const res = await runScenario(scenario, { baselineS: Number(opt('baseline', '40')), faultS: Number(opt('fault', '25')), recoveryS: Number(opt('recovery', '15')), rps, profile: 'steady', log, ...(seed !== undefined ? { seed } : {}) });
      truth = { ...res.groundTruth, phases: res.phases }; // the load generator's client-side view per phase
    } else {
      const start = Date.now();
      await runLoad({ rps, profile: 'steady', durationS: Number(faultFree), ...(seed !== undefined ? { seed } : {}) });
      truth = { scenario: 'fault-free', kind: 'none', start, end: Date.now(), expectedRoutes: [] };
    }
  } finally {
    child.kill('SIGINT');
    await exited;
    if (truth) {
      const line = JSON.stringify({ type: 'truth', ...(truth as object) }) + '\n';
      appendFileSync(out, out.endsWith('.gz') ? gzipSync(line) : line); // a second gzip member: gunzip reads both
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main().then(() => process.exit(0), (e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
