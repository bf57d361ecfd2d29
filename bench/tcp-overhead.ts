// Benchmark: what the TCP probes cost. A request/response workload (CONNS connections, 100 B / 100 B, no
// think time: the kernel path at its busiest per byte) and a bulk transfer, between two network namespaces
// joined by veth, with NO agent, the socket capture only (sock), and socket capture + TCP probes
// (sock+tcp: bpf/tcp.bpf.o with sock_ops on the cgroup v2 root and the diagnose tick). Modes run in
// interleaved rounds, the order rotated every round, so drift on this shared machine hits every mode.
// The agent (bench/lib/tcp-agent-child.ts) is a separate process started before and stopped after each
// measured round, outside the timed window; it watches the whole machine, as the real agent does.
//
//   node --import tsx bench/tcp-overhead.ts [--rounds 3] [--duration 4] [--conns 4]
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createNetnsPair, type NetnsPair } from '../test/helpers/netns.js';
import { tcpE2eSkipReason } from '../test/e2e/tcp-peer.js';
import { numArg } from './lib/args.js';
import { enableBpfStats, objectProgramNames, progStats, statDelta, type ProgStat } from './lib/bpf-prog-stats.js';
import { cpuTimes, fixed, int, machineHeader, median, procCpuSeconds, table } from './lib/report.js';
import { runBulk, startBenchServer, startRr, type BenchServer } from './lib/tcp-bench.js';
import type { TcpAgentStats } from './lib/tcp-agent-child.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODES = ['none', 'sock', 'sock+tcp'] as const;
type Mode = (typeof MODES)[number];

class Agent {
  private constructor(readonly proc: ChildProcess, readonly pid: number) {}

  static start(mode: Exclude<Mode, 'none'>): Promise<Agent> {
    const proc = fork(fileURLToPath(new URL('lib/tcp-agent-child.ts', import.meta.url)), ['--mode', mode], {
      cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { err += d; process.stderr.write(d); });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`agent not ready after 60 s\n${err}`)); }, 60_000);
      proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`agent exited (${code}) before it was ready:\n${err}`)); });
      proc.once('message', (m: { type: string; pid: number }) => {
        clearTimeout(t);
        proc.removeAllListeners('exit');
        if (m.type !== 'ready') return reject(new Error(`agent said ${JSON.stringify(m)}`));
        resolve(new Agent(proc, m.pid));
      });
    });
  }

  stats(): Promise<TcpAgentStats> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('agent did not answer a stats request in 30 s')), 30_000);
      this.proc.once('message', (m: TcpAgentStats) => { clearTimeout(t); resolve(m); });
      this.proc.send({ type: 'stats' });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
      this.proc.once('exit', () => { clearTimeout(t); resolve(); });
      this.proc.send({ type: 'stop' });
    });
  }
}

interface Run {
  round: number; mode: Mode; load1: number; busyPct: number; stealPct: number;
  rrPerSec: number; rrP50Us: number; rrP99Us: number; rrExchanges: number;
  workCpuUsPerEx: number; // client + server process CPU per exchange (includes probe time run in their context)
  bulkMbit: number; bulkBytes: number; workCpuMsPerGB: number;
  agentCpuPct?: number; // % of one core over the measured window
  bpfNsPerEx?: number; bpfMsPerGB?: number; // time inside the agent's BPF programs (kernel.bpf_stats_enabled)
  bpfByProg?: ProgStat[]; // rr window, per program
  agentCpuUsPerEx?: number; agentCpuMsPerGB?: number; agentCpuMs?: number; sockRecords?: number; sockDrops?: number; tcpEvents?: number; tcpConns?: number;
}

// Programs of the agent: those loaded while it started, with a name from one of its objects (other tenants
// of this machine load BPF programs too).
let ourNames: Set<string> | undefined;
function agentPrograms(before: Map<number, ProgStat>, after: Map<number, ProgStat>): number[] {
  ourNames ??= new Set(['sock_raw.bpf.o', 'sock.bpf.o', 'sock_compat.bpf.o', 'tcp.bpf.o'].flatMap((o) => {
    try { return [...objectProgramNames(fileURLToPath(new URL(`../bpf/.output/${o}`, import.meta.url)))]; } catch { return []; }
  }));
  return [...after.values()].filter((p) => !before.has(p.id) && ourNames!.has(p.name)).map((p) => p.id);
}

async function measure(pair: NetnsPair, server: BenchServer, mode: Mode, round: number, seconds: number, conns: number): Promise<Run> {
  const progs0 = mode === 'none' ? undefined : progStats();
  const agent = mode === 'none' ? undefined : await Agent.start(mode);
  try {
    const ids = agent ? agentPrograms(progs0!, progStats()) : [];
    if (agent) await new Promise((r) => setTimeout(r, 500)); // its first tick settles outside the window
    const before = await agent?.stats();
    const m0 = cpuTimes();
    const w0 = performance.now();
    const a0 = agent ? procCpuSeconds(agent.pid) : 0;
    const s0 = procCpuSeconds(server.child.pid!);
    const p0 = ids.length ? progStats() : undefined;
    const rr = await startRr(pair.a, pair.b, server.port, { conns, count: 0, durationMs: seconds * 1000, req: 100, resp: 100, thinkUs: 0, jitterUs: 0 }).report;
    const a1 = agent ? procCpuSeconds(agent.pid) : 0;
    const s1 = procCpuSeconds(server.child.pid!);
    const p1 = ids.length ? progStats() : undefined;
    const bulk = await runBulk(pair.a, pair.b, server.port, seconds * 1000);
    const a2 = agent ? procCpuSeconds(agent.pid) : 0;
    const s2 = procCpuSeconds(server.child.pid!);
    const p2 = ids.length ? progStats() : undefined;
    const m1 = cpuTimes();
    const windowMs = performance.now() - w0;
    const after = await agent?.stats();
    const gb = bulk.bytes / 1e9;
    const run: Run = {
      round, mode, load1: loadavg()[0], busyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total), stealPct: (100 * (m1.steal - m0.steal)) / (m1.total - m0.total),
      rrPerSec: rr.perSec, rrP50Us: rr.p50Us, rrP99Us: rr.p99Us, rrExchanges: rr.exchanges, workCpuUsPerEx: ((s1 - s0) * 1e6 + rr.cpuMs * 1e3) / rr.exchanges,
      bulkMbit: bulk.mbitPerSec, bulkBytes: bulk.bytes, workCpuMsPerGB: ((s2 - s1) * 1e3 + bulk.cpuMs) / gb,
    };
    if (agent && before && after) {
      run.agentCpuMs = (a2 - a0) * 1e3;
      run.agentCpuPct = (100 * run.agentCpuMs) / windowMs;
      run.agentCpuUsPerEx = ((a1 - a0) * 1e6) / rr.exchanges;
      run.agentCpuMsPerGB = ((a2 - a1) * 1e3) / gb;
      run.sockRecords = Number(BigInt(after.sockRecords) - BigInt(before.sockRecords));
      run.sockDrops = Number(BigInt(after.sockDrops) - BigInt(before.sockDrops));
      run.tcpEvents = after.tcpEvents - before.tcpEvents;
      run.tcpConns = after.tcpConns;
      if (p0 && p1 && p2) {
        const sum = (xs: ProgStat[]) => xs.reduce((n, x) => n + x.runTimeNs, 0);
        run.bpfByProg = statDelta(p0, p1, ids);
        run.bpfNsPerEx = sum(run.bpfByProg) / rr.exchanges;
        run.bpfMsPerGB = sum(statDelta(p1, p2, ids)) / 1e6 / gb;
      }
    }
    return run;
  } finally {
    await agent?.stop();
  }
}

async function main(): Promise<void> {
  const skip = tcpE2eSkipReason();
  if (skip) throw new Error(skip);
  const rounds = numArg('rounds', 3);
  const seconds = numArg('duration', 4);
  const conns = numArg('conns', 4);
  console.log(`faultlens bench tcp-overhead — ${machineHeader()}`);
  console.log(`workloads per measurement: rr ${conns} connections x 100 B / 100 B, no think, ${seconds} s; then bulk, 1 connection, 64 KiB writes, ${seconds} s`);
  console.log(`modes: ${MODES.join(', ')}; ${rounds} rounds, order rotated every round; agent = separate process, whole machine\n`);
  const restoreStats = enableBpfStats(); // system-wide, a few ns per program run; restored below
  const pair = createNetnsPair();
  let server: BenchServer | undefined;
  const runs: Run[] = [];
  try {
    server = await startBenchServer(pair.b);
    await startRr(pair.a, pair.b, server.port, { conns, count: 0, durationMs: 1000, req: 100, resp: 100, thinkUs: 0, jitterUs: 0 }).report; // warm-up
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < MODES.length; k++) {
        const mode = MODES[(k + r) % MODES.length]!;
        const run = await measure(pair, server, mode, r + 1, seconds, conns);
        runs.push(run);
        console.log(`round ${r + 1} ${mode.padEnd(8)}: rr ${int(run.rrPerSec)}/s p50 ${fixed(run.rrP50Us, 0)} µs p99 ${fixed(run.rrP99Us, 0)} µs; ` +
          `bulk ${int(run.bulkMbit)} Mbit/s` + (run.agentCpuMs !== undefined ? `; agent CPU ${int(run.agentCpuMs)} ms = ${fixed(run.agentCpuPct!, 1)} % of a core (${fixed(run.agentCpuUsPerEx!, 1)} µs/exchange, ` +
          `${int(run.agentCpuMsPerGB!)} ms/GB bulk), BPF programs ${fixed(run.bpfNsPerEx ?? NaN, 0)} ns/exchange ${fixed(run.bpfMsPerGB ?? NaN, 0)} ms/GB, sock records ${int(run.sockRecords!)} (${int(run.sockDrops!)} dropped), tcp events ${int(run.tcpEvents!)}, tcp conns in map ${int(run.tcpConns!)}` : '') +
          `; machine busy ${fixed(run.busyPct, 0)} % steal ${fixed(run.stealPct, 1)} %, load1 ${fixed(run.load1, 2)}`);
      }
    }
  } finally {
    server?.stop();
    pair.destroy();
    restoreStats();
  }
  const by = (m: Mode) => runs.filter((x) => x.mode === m);
  const med = (m: Mode, f: (x: Run) => number | undefined) => median(by(m).map((x) => f(x) ?? NaN));
  const spread = (m: Mode, f: (x: Run) => number) => {
    const xs = by(m).map(f);
    return (Math.max(...xs) - Math.min(...xs)) / median(xs);
  };
  const rows = [['median', 'rr /s', 'rr p50 µs', 'rr p99 µs', 'bulk Mbit/s', 'workload CPU µs/ex', 'workload CPU ms/GB', 'agent CPU µs/ex', 'agent CPU ms/GB', 'agent % core', 'rr spread', 'bulk spread']];
  for (const m of MODES) {
    rows.push([m, int(med(m, (x) => x.rrPerSec)), fixed(med(m, (x) => x.rrP50Us), 0), fixed(med(m, (x) => x.rrP99Us), 0), int(med(m, (x) => x.bulkMbit)),
      fixed(med(m, (x) => x.workCpuUsPerEx), 1), int(med(m, (x) => x.workCpuMsPerGB)),
      m === 'none' ? '-' : fixed(med(m, (x) => x.agentCpuUsPerEx), 1), m === 'none' ? '-' : int(med(m, (x) => x.agentCpuMsPerGB)),
      m === 'none' ? '-' : fixed(med(m, (x) => x.agentCpuPct), 1),
      `${fixed(100 * spread(m, (x) => x.rrPerSec), 0)} %`, `${fixed(100 * spread(m, (x) => x.bulkMbit), 0)} %`]);
  }
  console.log(`\n${table(rows)}\n`);
  const ratio = (m: Mode, base: Mode, f: (x: Run) => number) => fixed(med(m, f) / med(base, f), 3);
  console.log(table([
    ['ratio of medians', 'rr /s', 'rr p50', 'rr p99', 'bulk Mbit/s', 'workload CPU/ex', 'workload CPU/GB'],
    ...(['sock', 'sock+tcp'] as const).map((m) => [`${m} / none`, ratio(m, 'none', (x) => x.rrPerSec), ratio(m, 'none', (x) => x.rrP50Us),
      ratio(m, 'none', (x) => x.rrP99Us), ratio(m, 'none', (x) => x.bulkMbit), ratio(m, 'none', (x) => x.workCpuUsPerEx), ratio(m, 'none', (x) => x.workCpuMsPerGB)]),
    ['sock+tcp / sock', ratio('sock+tcp', 'sock', (x) => x.rrPerSec), ratio('sock+tcp', 'sock', (x) => x.rrP50Us), ratio('sock+tcp', 'sock', (x) => x.rrP99Us),
      ratio('sock+tcp', 'sock', (x) => x.bulkMbit), ratio('sock+tcp', 'sock', (x) => x.workCpuUsPerEx), ratio('sock+tcp', 'sock', (x) => x.workCpuMsPerGB)],
  ]));
  console.log(table([
    ['BPF program time (median)', 'ns per rr exchange', 'ms per GB bulk'],
    ...(['sock', 'sock+tcp'] as const).map((m) => [m, fixed(med(m, (x) => x.bpfNsPerEx), 0), fixed(med(m, (x) => x.bpfMsPerGB), 1)]),
  ]));
  const perProg = new Map<string, { ns: number; cnt: number; ex: number }>();
  for (const r of by('sock+tcp')) {
    for (const p of r.bpfByProg ?? []) {
      const e = perProg.get(p.name) ?? { ns: 0, cnt: 0, ex: 0 };
      e.ns += p.runTimeNs; e.cnt += p.runCnt; perProg.set(p.name, e);
    }
  }
  const exTotal = by('sock+tcp').reduce((n, r) => n + r.rrExchanges, 0);
  console.log('\nsock+tcp, rr windows, per program (all rounds): runs per exchange, ns per run, ns per exchange');
  console.log(table([['program', 'runs/ex', 'ns/run', 'ns/ex'],
    ...[...perProg].sort((x, y) => y[1].ns - x[1].ns).filter(([, e]) => e.cnt > 0).slice(0, 14)
      .map(([name, e]) => [name, fixed(e.cnt / exTotal, 2), fixed(e.ns / e.cnt, 0), fixed(e.ns / exTotal, 0)])]));
  const tcpOnlyUs = med('sock+tcp', (x) => x.agentCpuUsPerEx) - med('sock', (x) => x.agentCpuUsPerEx);
  console.log(`\nagent process CPU attributable to the TCP side (median sock+tcp - median sock): ${fixed(tcpOnlyUs, 2)} µs per rr exchange, ` +
    `${int(med('sock+tcp', (x) => x.agentCpuMsPerGB) - med('sock', (x) => x.agentCpuMsPerGB))} ms per GB bulk, ` +
    `${fixed(med('sock+tcp', (x) => x.agentCpuPct) - med('sock', (x) => x.agentCpuPct), 1)} % of a core. The TCP side works per 1 s tick over every ` +
    'connection in its map (the whole machine\'s, other tenants\' included) and per event, not per exchange: read the ' +
    'per-exchange figure as "at this exchange rate".');
  console.log('The BPF programs themselves run in the workload\'s own context (syscalls, softirq): their cost shows in the');
  console.log('workload\'s throughput/latency and its CPU per exchange (client + server processes, user + system, which on veth\n' +
    'includes most of the softirq work), not in the agent process\'s CPU time; CPU per unit of work is the figure least\n' +
    'distorted by the other tenants of this machine (they steal wall time, not the work\'s own CPU).');
  console.log('Spread = (max - min) / median over the rounds of one mode: a ratio closer to 1 than that spread is noise.');
  console.log(`done — ${machineHeader()}`);
}

main().catch((err: Error) => {
  console.error(`tcp-overhead: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
