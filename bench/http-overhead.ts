// Benchmark: what socket capture costs a loopback HTTP server. wrk drives nginx (or a Node http server)
// with the agent OFF and ON in interleaved rounds (off, on, off, on, ...) so that drift on this shared
// machine hits both sides; the agent is a separate process (bench/agent-child.ts: SockCollector with
// 512-byte payload heads + FlowTable + the `flows --json` tick), started before and stopped after each ON
// round, outside the timed window. Prints per-round figures, medians and the ON/OFF ratios, the agent's
// record/drop counts and its CPU time per request (/proc/PID/stat), next to the machine's load.
// --modes picks the agent variants, interleaved per round (default off,on):
//   off    no agent;
//   on     agent-child --agent flows-json (SockCollector + FlowTable + `flows --json` tick);
//   flows  the product's agent, startAgent({ apm: false }) from src/cli/agent-runtime.ts (counts in the kernel), no-op sink;
//   l7     the product's agent, startAgent({ apm: true }): flows + TCP collector + TLS uprobes + APM
//          pipeline + TCP diagnosis, i.e. what `faultlens up` runs (minus the store);
//   on-0   as on, with no payload capture (payload 0);
//   on-count  as on-0, with TCP data counted per socket in the kernel (countInKernel: the lite probe,
//          bpf/sock_lite.bpf.c, no syscall tracepoint; what the flows-only agent runs, `flows` is the same
//          through startAgent); on-count-raw: the same counting on the raw sys_exit probe;
//   on-classic  as on, with the classic-tracepoint probe (bpf/.output/sock.bpf.o) instead of the raw one.
// --alternate (with --modes off,flows): one agent process, started and settled once; for each OFF window
// it detaches its probes and stops its timers (pause), for each ON window it attaches them again, the
// order flipping every round. Windows can then be short and adjacent, which cancels the host's drift
// (minutes-long swings of 10-20 % in what one CPU second buys on this shared VM) far better than
// rounds that start and stop an agent.
// Each measured round follows --settle seconds of unmeasured wrk load (both modes alike), so an ON round
// sees the agent's steady state rather than its start-up (loading and verifying the programs, V8 compiling
// and collecting its start-up garbage: 10-30 ms/s of agent CPU for ~15 s, 0-10 ms/s after; p99 up ~1.8 x
// in that window, ~1.15 x after). With two or
// more CPUs, wrk and the server are pinned to different CPUs (--no-pin: not): unpinned, the scheduler's
// placement of the two alone spreads the OFF rounds by ~10 %, pinned by ~4 %. The agent is not pinned.
// Ratios are paired: each ON round against the mean of the OFF rounds just before and after it, so slow
// drift on this shared machine cancels; the verdict is MET only when the 90 % bootstrap interval of the
// median paired ratio lies within the target.
// kernel.bpf_stats_enabled is switched on for the run (restored after; --no-bpf-stats leaves it alone) to
// report the time spent inside the agent's BPF programs per request: the figure the load of a shared
// machine disturbs least.
//
//   node --import tsx bench/http-overhead.ts [--server nginx|node] [--rounds 3] [--duration 10]
//        [--connections 32] [--threads 1] [--payload 512] [--modes off,on | off,flows,l7 | off,on,on-0,on-classic] [--no-bpf-stats]
//        [--settle 20] [--no-pin] [--alternate]
//        [--classic-object path/to/sock.bpf.o]
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { flag, numArg, strArg } from './lib/args.js';
import { enableBpfStats, objectProgramNames, progStats, statDelta, type ProgStat } from './lib/bpf-prog-stats.js';
import { bootstrapCi, cpuTimes, fixed, int, machineHeader, max, median, min, procCpuSeconds, quantile, table } from './lib/report.js';
import { hasCommand, startNginx, startNodeHttp, type BenchServer } from './lib/servers.js';
import { runWrk, type WrkResult } from './lib/wrk.js';
import type { AgentStats } from './agent-child.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGET_LOSS = 0.05;

type Mode = 'off' | 'on' | 'flows' | 'l7' | 'on-0' | 'on-count' | 'on-count-raw' | 'on-classic';
const MODES: Record<Mode, { args: string[]; what: string }> = {
  off: { args: [], what: 'no agent' },
  on: { args: ['--agent', 'flows-json'], what: 'SockCollector + FlowTable + 1 s `flows --json` tick' },
  flows: { args: ['--agent', 'runtime', '--apm', '0'], what: 'startAgent({ apm: false }), no-op sink' },
  l7: { args: ['--agent', 'runtime', '--apm', '1'], what: 'startAgent({ apm: true }): + TCP collector, TLS uprobes, APM, TCP diagnosis; no-op sink' },
  'on-0': { args: ['--agent', 'flows-json', '--payload', '0'], what: 'as on, payload 0 (no payload copy: flows only)' },
  'on-count': { args: ['--agent', 'flows-json', '--payload', '0', '--count', '1'], what: 'as on-0, counting in the kernel (countInKernel): the lite probe, no syscall tracepoint' },
  'on-count-raw': { args: ['--agent', 'flows-json', '--payload', '0', '--count', '1', '--object', 'raw'], what: 'as on-count, on the raw sys_exit probe (count_in_kernel)' },
  'on-classic': { args: ['--agent', 'flows-json', '--object', 'classic'], what: 'as on, classic tracepoint probe (sock.bpf.o)' },
};
/** Objects whose programs count as the agent's (bpf_stats): its socket probe variants, TCP and TLS probes. */
const AGENT_OBJECTS = ['sock_lite', 'sock_raw', 'sock', 'sock_compat', 'tcp', 'tls'].map((n) => fileURLToPath(new URL(`../bpf/.output/${n}.bpf.o`, import.meta.url)));

function parseModes(spec: string): Mode[] {
  const modes = spec.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of modes) if (!(m in MODES)) throw new Error(`--modes: unknown mode '${m}' (${Object.keys(MODES).join(', ')})`);
  if (!modes.includes('off')) throw new Error('--modes must include off (the ratios are against it)');
  if (new Set(modes).size !== modes.length) throw new Error('--modes lists a mode twice');
  return modes as Mode[];
}

interface Round {
  mode: Mode; wrk: WrkResult; load1: number; serverCpuUsPerReq: number; wrkCpuUsPerReq: number;
  stealPct: number; busyPct: number; // whole machine during the round: hypervisor steal, CPU busy
  agent?: {
    records: number; drops: number; delivered: number; cpuMs: number; cpuUsPerReq: number; recordsPerReq: number; flows: number;
    serverRecordsPerReq: number | null; // records of the server process only (flows-json agent): the rest is the client's and other sessions' traffic
    l7PerReq: number; // L7 request rows the agent produced per wrk request (l7 mode)
    bpfUsPerReq: number; // time inside the agent's BPF programs per request (NaN without bpf_stats)
  };
}

const warned = new Set<string>(); // agent warnings, printed once per run
// on-classic's probe object: the classic build of bpf/sock.bpf.c, or --classic-object (e.g. an older build)
const classicObject = strArg('classic-object', 'classic');

class Agent {
  private constructor(readonly proc: ChildProcess, readonly pid: number) {}

  static start(mode: Mode, payload: number, watchPid: number): Promise<Agent> {
    const args = [...MODES[mode].args.map((a) => (a === 'classic' ? classicObject : a)), '--payload', String(payload), '--watch-pid', String(watchPid)];
    const proc = fork(fileURLToPath(new URL('agent-child.ts', import.meta.url)), args, {
      cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { err += d; });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`agent not ready after 60 s\n${err}`)); }, 60_000);
      proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`agent exited (${code}) before it was ready:\n${err}`)); });
      proc.once('message', (m: { type: string; pid: number; attached: number; warnings?: string[] }) => {
        clearTimeout(t);
        proc.removeAllListeners('exit');
        if (m.type !== 'ready') return reject(new Error(`agent said ${JSON.stringify(m)}`));
        if (m.attached === 0) return reject(new Error('agent attached no tracepoint'));
        for (const w of new Set(m.warnings ?? [])) if (!warned.has(w)) { warned.add(w); console.log(`  [agent ${mode}] warning: ${w}`); }
        resolve(new Agent(proc, m.pid));
      });
    });
  }

  stats(): Promise<AgentStats> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('agent did not answer a stats request in 30 s')), 30_000);
      this.proc.once('message', (m: AgentStats) => { clearTimeout(t); resolve(m); });
      this.proc.send({ type: 'stats' });
    });
  }

  /** --alternate: the agent detaches (pause) or re-attaches (resume) its probes in place. */
  control(type: 'pause' | 'resume'): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent did not answer ${type} in 30 s`)), 30_000);
      this.proc.once('message', (m: { type: string; message?: string }) => {
        clearTimeout(t);
        if (m.type === (type === 'pause' ? 'paused' : 'resumed')) resolve();
        else reject(new Error(`agent answered ${type} with ${JSON.stringify(m)}`));
      });
      this.proc.send({ type });
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

async function main(): Promise<void> {
  const serverKind = strArg('server', 'nginx');
  const rounds = numArg('rounds', 3);
  const seconds = numArg('duration', 10);
  const connections = numArg('connections', 32);
  const threads = numArg('threads', 1);
  const payload = numArg('payload', 512);
  const modes = parseModes(strArg('modes', 'off,on'));
  const onModes = modes.filter((x) => x !== 'off');
  const statsOn = !flag('no-bpf-stats');
  const settle = numArg('settle', 20);
  const ncpu = cpus().length;
  const pin = !flag('no-pin') && ncpu >= 2;
  const wrkCpus = pin ? '0' : undefined;
  const alternate = flag('alternate');
  if (alternate && (modes.length !== 2 || onModes[0] !== 'flows')) throw new Error('--alternate pauses and resumes one flows-only agent: use it with --modes off,flows');
  if (process.getuid?.() !== 0) throw new Error('http-overhead needs root (the agent attaches eBPF programs)');
  for (const cmd of ['wrk', ...(serverKind === 'nginx' ? ['nginx'] : [])]) {
    if (!hasCommand(cmd)) {
      console.error(`http-overhead: '${cmd}' is not installed (apt-get install ${cmd}); skipping`);
      process.exitCode = 2;
      return;
    }
  }
  console.log(`faultlens bench http-overhead — ${machineHeader()}`);
  const restoreStats = statsOn ? enableBpfStats() : () => {};
  process.once('exit', () => restoreStats());
  const server: BenchServer = serverKind === 'node' ? await startNodeHttp() : await startNginx();
  let agent: Agent | undefined;
  const cleanup = async () => { await agent?.stop(); await server.stop(); };
  process.once('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  const results: Round[] = [];
  try {
    if (pin) execFileSync('taskset', ['-pc', String(ncpu - 1), String(server.workerPid)], { stdio: 'ignore' });
    console.log(`server: ${server.kind} at ${server.url}` + (pin ? `, pinned to CPU ${ncpu - 1}; wrk pinned to CPU 0; the agent unpinned` : ', nothing pinned'));
    console.log(`load: wrk -t${threads} -c${connections} -d${seconds}s --latency; agent: separate process, payload ${payload} B`);
    for (const x of modes) console.log(`  mode ${x.padEnd(5)}: ${alternate && x === 'off' ? 'the agent paused: none of its probes attached, its timers stopped' : MODES[x].what}`);
    console.log(alternate
      ? `rounds: ${rounds} x (${modes.join(', ')}) in one agent process, after ${settle} s of unmeasured load; its probes detached in the OFF windows, attached in the ON ones, the order alternating\n`
      : `rounds: ${rounds} x (${modes.join(', ')}), interleaved, each after ${settle} s of unmeasured load\n`);
    const rows = [['round', 'agent', 'req/s', 'p50 ms', 'p99 ms', 'server CPU us/req', 'wrk CPU us/req', 'agent CPU us/req', 'BPF us/req', 'records/req', 'server rec/req', 'L7 req/req', 'records', 'drops', 'busy %', 'steal %', 'load1']];
    const bpfNames = new Set(AGENT_OBJECTS.filter((o) => existsSync(o)).flatMap((o) => [...objectProgramNames(o)]));
    let pausedCpu = 0; // --alternate: the paused agent's CPU during the OFF windows (seconds)
    // One measured window of `mode`; `live` is the agent running during it (none for OFF).
    const measure = async (mode: Mode, live: Agent | undefined, progIds: number[]): Promise<void> => {
      const before = live ? await live.stats() : undefined;
      const agentCpu0 = agent ? procCpuSeconds(agent.pid) : 0;
      const p0 = live ? progStats() : undefined;
      const srvCpu0 = procCpuSeconds(server.workerPid);
      const m0 = cpuTimes();
      const wrk = await runWrk(server.url, { threads, connections, seconds, cpus: wrkCpus });
      const m1 = cpuTimes();
      const srvCpu = procCpuSeconds(server.workerPid) - srvCpu0;
      const bpfNs = p0 && statsOn ? statDelta(p0, progStats(), progIds).reduce((a, p) => a + p.runTimeNs, 0) : NaN;
      const total = m1.total - m0.total;
      const round: Round = {
        mode, wrk, load1: loadavg()[0], serverCpuUsPerReq: (srvCpu * 1e6) / wrk.requests, wrkCpuUsPerReq: (wrk.cpuSeconds * 1e6) / wrk.requests,
        stealPct: (100 * (m1.steal - m0.steal)) / total, busyPct: (100 * (m1.busy - m0.busy)) / total,
      };
      if (agent && !live) pausedCpu += procCpuSeconds(agent.pid) - agentCpu0;
      if (live && before) {
        const cpu = procCpuSeconds(live.pid) - agentCpu0;
        const after = await live.stats();
        const records = Number(BigInt(after.records) - BigInt(before.records));
        round.agent = {
          records, drops: Number(BigInt(after.drops) - BigInt(before.drops)), delivered: after.delivered - before.delivered,
          cpuMs: cpu * 1000, cpuUsPerReq: (cpu * 1e6) / wrk.requests, recordsPerReq: records / wrk.requests, flows: after.flows,
          serverRecordsPerReq: after.watchedRecords === null || before.watchedRecords === null ? null : (after.watchedRecords - before.watchedRecords) / wrk.requests,
          l7PerReq: (after.requests - before.requests) / wrk.requests,
          bpfUsPerReq: bpfNs / 1000 / wrk.requests,
        };
      }
      results.push(round);
      const a = round.agent;
      const row = [String(results.length), mode, int(wrk.reqPerSec), fixed(wrk.p50Ms, 3), fixed(wrk.p99Ms, 3), fixed(round.serverCpuUsPerReq, 1),
        fixed(round.wrkCpuUsPerReq, 1), a ? fixed(a.cpuUsPerReq, 1) : '-', a ? fixed(a.bpfUsPerReq, 2) : '-', a ? fixed(a.recordsPerReq, 2) : '-', a?.serverRecordsPerReq != null ? fixed(a.serverRecordsPerReq, 2) : '-', a ? fixed(a.l7PerReq, 2) : '-', a ? int(a.records) : '-',
        a ? int(a.drops) : '-', fixed(round.busyPct, 0), fixed(round.stealPct, 1), fixed(round.load1, 2)];
      rows.push(row);
      console.log(`round ${row[0]} agent ${mode.padEnd(5)}: ${row[2]} req/s, p50 ${row[3]} ms, p99 ${row[4]} ms, server ${row[5]} + wrk ${row[6]} us CPU/req` +
        (a ? `; agent ${int(a.records)} records written (${fixed(a.recordsPerReq, 2)}/req` + (a.serverRecordsPerReq !== null ? `, server's own ${fixed(a.serverRecordsPerReq, 2)}/req` : '') +
          `), ${int(a.drops)} dropped` + (mode === 'on' ? `, ${int(a.delivered)} delivered` : '') + (mode === 'l7' ? `, ${fixed(a.l7PerReq, 2)} L7 requests/req` : '') + ', ' +
          `${int(a.cpuMs)} ms CPU = ${fixed(a.cpuUsPerReq, 1)} us/req, BPF ${fixed(a.bpfUsPerReq, 2)} us/req` : '') +
        (wrk.socketErrors || wrk.non2xx ? ` [${wrk.socketErrors} socket errors, ${wrk.non2xx} non-2xx]` : '') + `  (load1 ${fixed(round.load1, 2)})`);
    };
    const startAgent = async (mode: Mode): Promise<number[]> => {
      const known = progStats();
      agent = await Agent.start(mode, payload, server.workerPid);
      return [...progStats().values()].filter((p) => !known.has(p.id) && bpfNames.has(p.name)).map((p) => p.id);
    };
    const settleLoad = () => (settle > 0 ? runWrk(server.url, { threads, connections, seconds: settle, cpus: wrkCpus }) : Promise.resolve());
    if (alternate) {
      // one agent, settled once; its probes detached for the OFF windows and attached for the ON ones
      const progIds = await startAgent(onModes[0]);
      await settleLoad();
      for (let i = 0; i < rounds; i++) {
        for (const mode of i % 2 ? modes : [...modes].reverse()) { // ON first, then OFF first, and so on
          await agent!.control(mode === 'off' ? 'pause' : 'resume');
          await measure(mode, mode === 'off' ? undefined : agent, progIds);
        }
      }
      await agent!.stop();
      agent = undefined;
    } else {
      for (let r = 0; r < rounds * modes.length; r++) {
        const mode = modes[r % modes.length];
        const progIds = mode !== 'off' ? await startAgent(mode) : [];
        await settleLoad();
        await measure(mode, agent, progIds);
        await agent?.stop();
        agent = undefined;
      }
    }
    if (alternate) console.log(`the paused agent used ${fixed(pausedCpu * 1000, 0)} ms of CPU over all OFF windows`);
    const m = (xs: Round[], f: (x: Round) => number) => median(xs.map(f));
    const of = (mode: Mode) => results.filter((x) => x.mode === mode);
    const off = of('off');
    const spread = (xs: Round[]) => (Math.max(...xs.map((x) => x.wrk.reqPerSec)) - Math.min(...xs.map((x) => x.wrk.reqPerSec))) / median(xs.map((x) => x.wrk.reqPerSec));
    const cpuOf = (x: Round) => x.serverCpuUsPerReq + x.wrkCpuUsPerReq + (x.agent?.cpuUsPerReq ?? 0);
    const rpsOff = m(off, (x) => x.wrk.reqPerSec);
    const p50Off = m(off, (x) => x.wrk.p50Ms);
    const p99Off = m(off, (x) => x.wrk.p99Ms);
    const cOff = m(off, cpuOf);
    console.log(`\n${table(rows)}\n`);
    const med: string[][] = [['median', 'req/s', 'p50 ms', 'p99 ms', 'server CPU us/req', 'wrk CPU us/req', 'agent CPU us/req', 'BPF us/req', 'total CPU us/req']];
    const ratios: string[][] = [['vs off', 'req/s ratio', 'p50 ratio', 'p99 ratio', 'total CPU/req ratio', 'CPU-bound req/s ratio']];
    for (const mode of modes) {
      const xs = of(mode);
      med.push([`agent ${mode}`, int(m(xs, (x) => x.wrk.reqPerSec)), fixed(m(xs, (x) => x.wrk.p50Ms), 3), fixed(m(xs, (x) => x.wrk.p99Ms), 3),
        fixed(m(xs, (x) => x.serverCpuUsPerReq), 1), fixed(m(xs, (x) => x.wrkCpuUsPerReq), 1), mode === 'off' ? '-' : fixed(m(xs, (x) => x.agent!.cpuUsPerReq), 1),
        mode === 'off' ? '-' : fixed(m(xs, (x) => x.agent!.bpfUsPerReq), 2), fixed(m(xs, cpuOf), 1)]);
      if (mode !== 'off') {
        const c = m(xs, cpuOf);
        ratios.push([`${mode} / off`, fixed(m(xs, (x) => x.wrk.reqPerSec) / rpsOff, 3), fixed(m(xs, (x) => x.wrk.p50Ms) / p50Off, 3), fixed(m(xs, (x) => x.wrk.p99Ms) / p99Off, 3),
          fixed(c / cOff, 3), fixed(cOff / c, 3)]);
      }
    }
    // Paired: each ON round over the mean of the OFF rounds on either side of it (one at the ends).
    const paired = (i: number, f: (x: Round) => number): number => {
      const refs = [results.slice(0, i).reverse().find((x) => x.mode === 'off'), results.slice(i + 1).find((x) => x.mode === 'off')].filter((x): x is Round => !!x);
      return f(results[i]) / (refs.reduce((a, x) => a + f(x), 0) / refs.length);
    };
    const pairsOf = (mode: Mode, f: (x: Round) => number) => results.flatMap((x, i) => (x.mode === mode ? [paired(i, f)] : []));
    // The noise floor: each OFF round against its OFF neighbours, the same way (no agent on either side).
    const offIdx = results.flatMap((x, i) => (x.mode === 'off' ? [i] : []));
    const rpsAt = (i: number) => results[i].wrk.reqPerSec;
    const offPairs = offIdx.slice(1, -1).map((i, k) => rpsAt(i) / ((rpsAt(offIdx[k]) + rpsAt(offIdx[k + 2])) / 2));
    const offNoise = offPairs.length ? quantile(offPairs.map((r) => Math.abs(1 - r)), 0.75) : NaN;
    const pairedRows: string[][] = [['paired vs off', 'pairs', 'req/s ratio median', '90 % CI', 'min', 'max', 'p99 ratio median', 'loss (median)']];
    for (const mode of onModes) {
      const rps = pairsOf(mode, (x) => x.wrk.reqPerSec);
      const p99 = pairsOf(mode, (x) => x.wrk.p99Ms);
      const [lo, hi] = bootstrapCi(rps, median);
      pairedRows.push([`${mode} / off`, String(rps.length), fixed(median(rps), 3), `${fixed(lo, 3)}..${fixed(hi, 3)}`, fixed(min(rps), 3), fixed(max(rps), 3), fixed(median(p99), 3), `${fixed(100 * (1 - median(rps)), 1)} %`]);
    }
    console.log(table(med));
    console.log('');
    console.log(table(ratios));
    console.log('');
    console.log(table(pairedRows));
    if (offPairs.length) console.log(`noise floor: OFF rounds against their OFF neighbours deviate by <= ${fixed(100 * offNoise, 1)} % in 3 of 4 (${offPairs.length} interior OFF rounds)`);
    for (const mode of onModes) {
      const xs = of(mode);
      const ag = xs.map((x) => x.agent!);
      const rps = m(xs, (x) => x.wrk.reqPerSec);
      const loss = 1 - rps / rpsOff;
      console.log(`\n[${mode}] agent (median of its rounds): ${fixed(median(ag.map((a) => a.recordsPerReq)), 2)} records/request, ` +
        `${fixed(median(ag.map((a) => a.cpuUsPerReq)), 1)} us agent CPU/request, ${int(median(ag.map((a) => a.records / seconds)))} records/s` +
        (mode === 'l7' ? `, ${fixed(median(ag.map((a) => a.l7PerReq)), 2)} L7 requests/request` : '') +
        `; ${int(ag.reduce((n, a) => n + a.drops, 0))} records dropped, ${int(ag.reduce((n, a) => n + a.records, 0))} written (all its rounds)`);
      const own = ag.filter((a) => a.serverRecordsPerReq !== null);
      if (own.length) {
        const foreign = median(own.map((a) => a.recordsPerReq - 2 * a.serverRecordsPerReq!));
        if (foreign > 1) {
          console.log(`WARNING: ~${fixed(foreign, 1)} records/request came from neither the server nor (by symmetry) wrk: ` +
            `other sessions were doing socket I/O during the ${mode} rounds, and the agent paid for it`);
        }
      }
      // The verdict stands on the pairs: met when the whole 90 % confidence interval of the median paired
      // ratio is within the target, not met when all of it is outside, inconclusive otherwise.
      const pr = pairsOf(mode, (x) => x.wrk.reqPerSec);
      const [lo, hi] = bootstrapCi(pr, median);
      const verdict = pr.length < 3 ? 'INCONCLUSIVE: fewer than 3 pairs give no measure of the noise' : lo >= 1 - TARGET_LOSS ? 'MET' : hi < 1 - TARGET_LOSS ? 'NOT MET' :
        `INCONCLUSIVE: the interval straddles ${fixed(1 - TARGET_LOSS, 2)}; more rounds narrow it`;
      console.log(`[${mode}] paired throughput ratio ${mode}/off: median ${fixed(median(pr), 3)} (loss ${fixed(100 * (1 - median(pr)), 1)} %), 90 % CI ${fixed(lo, 3)}..${fixed(hi, 3)} ` +
        `(loss ${fixed(100 * (1 - hi), 1)}..${fixed(100 * (1 - lo), 1)} %; target <= ${100 * TARGET_LOSS} %: ${verdict}); medians of all rounds: ${fixed(rps / rpsOff, 3)} (loss ${fixed(100 * loss, 1)} %); ` +
        `p99 ratio ${mode}/off ${fixed(m(xs, (x) => x.wrk.p99Ms) / p99Off, 3)} (paired median ${fixed(median(pairsOf(mode, (x) => x.wrk.p99Ms)), 3)})`);
      // Load-independent view: on a CPU-bound box, throughput scales with 1 / (CPU per request of everything involved).
      const c = m(xs, cpuOf);
      console.log(`[${mode}] CPU per request (server + wrk + agent): off ${fixed(cOff, 1)} us, ${mode} ${fixed(c, 1)} us -> if CPU-bound, expected throughput ratio ` +
        `${fixed(cOff / c, 3)} (loss ${fixed(100 * (1 - cOff / c), 1)} %); of which the agent process alone: ${fixed(median(ag.map((a) => a.cpuUsPerReq)), 1)} us/req`);
    }
    console.log(`\nround-to-round spread of req/s: ${modes.map((x) => `${x} ${fixed(100 * spread(of(x)), 1)} %`).join(', ')}`);
    console.log(`done — ${machineHeader()}`);
  } finally {
    await cleanup();
    restoreStats();
  }
}

main().catch((err: Error) => {
  console.error(`http-overhead: ${err.message}`);
  process.exitCode = 1;
});
