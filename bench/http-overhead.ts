// Benchmark: what socket capture costs a loopback HTTP server. wrk drives nginx (or a Node http server)
// with the agent OFF and ON in interleaved rounds (off, on, off, on, ...) so that drift on this shared
// machine hits both sides; the agent is a separate process (bench/agent-child.ts: SockCollector with
// 512-byte payload heads + FlowTable + the `flows --json` tick), started before and stopped after each ON
// round, outside the timed window. Prints per-round figures, medians and the ON/OFF ratios, the agent's
// record/drop counts and its CPU time per request (/proc/PID/stat), next to the machine's load.
//
//   node --import tsx bench/http-overhead.ts [--server nginx|node] [--rounds 3] [--duration 10]
//        [--connections 32] [--threads 1] [--payload 512]
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { numArg, strArg } from './lib/args.js';
import { cpuTimes, fixed, int, machineHeader, median, procCpuSeconds, table } from './lib/report.js';
import { hasCommand, startNginx, startNodeHttp, type BenchServer } from './lib/servers.js';
import { runWrk, type WrkResult } from './lib/wrk.js';
import type { AgentStats } from './agent-child.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGET_LOSS = 0.05;

interface Round {
  mode: 'off' | 'on'; wrk: WrkResult; load1: number; serverCpuUsPerReq: number; wrkCpuUsPerReq: number;
  stealPct: number; busyPct: number; // whole machine during the round: hypervisor steal, CPU busy
  agent?: {
    records: number; drops: number; delivered: number; cpuMs: number; cpuUsPerReq: number; recordsPerReq: number; flows: number;
    serverRecordsPerReq: number; // records of the server process only: the rest is the client's and other sessions' traffic
  };
}

class Agent {
  private constructor(readonly proc: ChildProcess, readonly pid: number) {}

  static start(payload: number, watchPid: number): Promise<Agent> {
    const proc = fork(fileURLToPath(new URL('agent-child.ts', import.meta.url)), ['--payload', String(payload), '--watch-pid', String(watchPid)], {
      cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => { err += d; });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`agent not ready after 60 s\n${err}`)); }, 60_000);
      proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`agent exited (${code}) before it was ready:\n${err}`)); });
      proc.once('message', (m: { type: string; pid: number; attached: number }) => {
        clearTimeout(t);
        proc.removeAllListeners('exit');
        if (m.type !== 'ready') return reject(new Error(`agent said ${JSON.stringify(m)}`));
        if (m.attached === 0) return reject(new Error('agent attached no tracepoint'));
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
  if (process.getuid?.() !== 0) throw new Error('http-overhead needs root (the agent attaches eBPF programs)');
  for (const cmd of ['wrk', ...(serverKind === 'nginx' ? ['nginx'] : [])]) {
    if (!hasCommand(cmd)) {
      console.error(`http-overhead: '${cmd}' is not installed (apt-get install ${cmd}); skipping`);
      process.exitCode = 2;
      return;
    }
  }
  console.log(`faultlens bench http-overhead — ${machineHeader()}`);
  const server: BenchServer = serverKind === 'node' ? await startNodeHttp() : await startNginx();
  let agent: Agent | undefined;
  const cleanup = async () => { await agent?.stop(); await server.stop(); };
  process.once('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  const results: Round[] = [];
  try {
    console.log(`server: ${server.kind} at ${server.url}`);
    console.log(`load: wrk -t${threads} -c${connections} -d${seconds}s --latency; agent: separate process, SockCollector(payload ${payload} B) + FlowTable + 1 s JSON tick`);
    console.log(`rounds: ${rounds} x (off, on), interleaved, after a 2 s unmeasured warm-up\n`);
    await runWrk(server.url, { threads, connections, seconds: 2 });
    const rows = [['round', 'agent', 'req/s', 'p50 ms', 'p99 ms', 'server CPU us/req', 'wrk CPU us/req', 'agent CPU us/req', 'records/req', 'server rec/req', 'records', 'drops', 'busy %', 'steal %', 'load1']];
    for (let r = 0; r < rounds * 2; r++) {
      const mode = r % 2 === 0 ? 'off' : 'on';
      let before: AgentStats | undefined;
      let agentCpu0 = 0;
      if (mode === 'on') {
        agent = await Agent.start(payload, server.workerPid);
        await new Promise((res) => setTimeout(res, 500)); // let its first drain/tick settle
        before = await agent.stats();
        agentCpu0 = procCpuSeconds(agent.pid);
      }
      const srvCpu0 = procCpuSeconds(server.workerPid);
      const m0 = cpuTimes();
      const wrk = await runWrk(server.url, { threads, connections, seconds });
      const m1 = cpuTimes();
      const srvCpu = procCpuSeconds(server.workerPid) - srvCpu0;
      const total = m1.total - m0.total;
      const round: Round = {
        mode, wrk, load1: loadavg()[0], serverCpuUsPerReq: (srvCpu * 1e6) / wrk.requests, wrkCpuUsPerReq: (wrk.cpuSeconds * 1e6) / wrk.requests,
        stealPct: (100 * (m1.steal - m0.steal)) / total, busyPct: (100 * (m1.busy - m0.busy)) / total,
      };
      if (agent && before) {
        const cpu = procCpuSeconds(agent.pid) - agentCpu0;
        const after = await agent.stats();
        const records = Number(BigInt(after.records) - BigInt(before.records));
        round.agent = {
          records, drops: Number(BigInt(after.drops) - BigInt(before.drops)), delivered: after.delivered - before.delivered,
          cpuMs: cpu * 1000, cpuUsPerReq: (cpu * 1e6) / wrk.requests, recordsPerReq: records / wrk.requests, flows: after.flows,
          serverRecordsPerReq: (after.watchedRecords - before.watchedRecords) / wrk.requests,
        };
        await agent.stop();
        agent = undefined;
      }
      results.push(round);
      const a = round.agent;
      const row = [String(r + 1), mode, int(wrk.reqPerSec), fixed(wrk.p50Ms, 3), fixed(wrk.p99Ms, 3), fixed(round.serverCpuUsPerReq, 1),
        fixed(round.wrkCpuUsPerReq, 1), a ? fixed(a.cpuUsPerReq, 1) : '-', a ? fixed(a.recordsPerReq, 2) : '-', a ? fixed(a.serverRecordsPerReq, 2) : '-', a ? int(a.records) : '-',
        a ? int(a.drops) : '-', fixed(round.busyPct, 0), fixed(round.stealPct, 1), fixed(round.load1, 2)];
      rows.push(row);
      console.log(`round ${row[0]} agent ${mode.padEnd(3)}: ${row[2]} req/s, p50 ${row[3]} ms, p99 ${row[4]} ms, server ${row[5]} + wrk ${row[6]} us CPU/req` +
        (a ? `; agent ${int(a.records)} records written (${fixed(a.recordsPerReq, 2)}/req, server's own ${fixed(a.serverRecordsPerReq, 2)}/req), ${int(a.drops)} dropped, ${int(a.delivered)} delivered, ` +
          `${int(a.cpuMs)} ms CPU = ${fixed(a.cpuUsPerReq, 1)} us/req` : '') +
        (wrk.socketErrors || wrk.non2xx ? ` [${wrk.socketErrors} socket errors, ${wrk.non2xx} non-2xx]` : '') + `  (load1 ${fixed(round.load1, 2)})`);
    }
    const off = results.filter((x) => x.mode === 'off');
    const on = results.filter((x) => x.mode === 'on');
    const m = (xs: Round[], f: (x: Round) => number) => median(xs.map(f));
    const rpsOff = m(off, (x) => x.wrk.reqPerSec);
    const rpsOn = m(on, (x) => x.wrk.reqPerSec);
    const p99Off = m(off, (x) => x.wrk.p99Ms);
    const p99On = m(on, (x) => x.wrk.p99Ms);
    const loss = 1 - rpsOn / rpsOff;
    console.log(`\n${table(rows)}\n`);
    console.log(table([
      ['median', 'req/s', 'p50 ms', 'p99 ms', 'server CPU us/req', 'wrk CPU us/req'],
      ['agent off', int(rpsOff), fixed(m(off, (x) => x.wrk.p50Ms), 3), fixed(p99Off, 3), fixed(m(off, (x) => x.serverCpuUsPerReq), 1), fixed(m(off, (x) => x.wrkCpuUsPerReq), 1)],
      ['agent on', int(rpsOn), fixed(m(on, (x) => x.wrk.p50Ms), 3), fixed(p99On, 3), fixed(m(on, (x) => x.serverCpuUsPerReq), 1), fixed(m(on, (x) => x.wrkCpuUsPerReq), 1)],
      ['on / off', fixed(rpsOn / rpsOff, 3), fixed(m(on, (x) => x.wrk.p50Ms) / m(off, (x) => x.wrk.p50Ms), 3), fixed(p99On / p99Off, 3),
        fixed(m(on, (x) => x.serverCpuUsPerReq) / m(off, (x) => x.serverCpuUsPerReq), 3), fixed(m(on, (x) => x.wrkCpuUsPerReq) / m(off, (x) => x.wrkCpuUsPerReq), 3)],
    ]));
    const ag = on.map((x) => x.agent!);
    console.log(`\nagent (median of ON rounds): ${fixed(median(ag.map((a) => a.recordsPerReq)), 2)} records/request, ` +
      `${fixed(median(ag.map((a) => a.cpuUsPerReq)), 1)} us agent CPU/request, ${int(median(ag.map((a) => a.records / seconds)))} records/s; ` +
      `${int(ag.reduce((n, a) => n + a.drops, 0))} records dropped, ${int(ag.reduce((n, a) => n + a.records, 0))} written (all ON rounds)`);
    const foreign = median(ag.map((a) => a.recordsPerReq - 2 * a.serverRecordsPerReq));
    if (foreign > 1) {
      console.log(`WARNING: ~${fixed(foreign, 1)} records/request came from neither the server nor (by symmetry) wrk: ` +
        'other sessions were doing socket I/O during the ON rounds, and the agent paid for it');
    }
    const spread = (xs: Round[]) => (Math.max(...xs.map((x) => x.wrk.reqPerSec)) - Math.min(...xs.map((x) => x.wrk.reqPerSec))) / median(xs.map((x) => x.wrk.reqPerSec));
    const noise = Math.max(spread(off), spread(on));
    const verdict = rounds < 2 ? 'INCONCLUSIVE: one round each gives no measure of the noise' : noise > TARGET_LOSS ? `INCONCLUSIVE: the rounds spread by ${fixed(100 * noise, 1)} %, more than the target itself` :
      loss <= TARGET_LOSS ? 'MET' : 'NOT MET';
    console.log(`throughput ratio on/off ${fixed(rpsOn / rpsOff, 3)} (loss ${fixed(100 * loss, 1)} %, target <= ${100 * TARGET_LOSS} %: ${verdict}); ` +
      `p99 ratio on/off ${fixed(p99On / p99Off, 3)}`);
    console.log(`round-to-round spread of req/s: off ${fixed(100 * spread(off), 1)} %, on ${fixed(100 * spread(on), 1)} %`);
    // Load-independent view: on a CPU-bound box, throughput scales with 1 / (CPU per request of everything involved).
    const cOff = m(off, (x) => x.serverCpuUsPerReq + x.wrkCpuUsPerReq);
    const cOn = m(on, (x) => x.serverCpuUsPerReq + x.wrkCpuUsPerReq + (x.agent?.cpuUsPerReq ?? 0));
    console.log(`CPU per request (server + wrk [+ agent]): off ${fixed(cOff, 1)} us, on ${fixed(cOn, 1)} us -> if CPU-bound, expected throughput ratio ` +
      `${fixed(cOff / cOn, 3)} (loss ${fixed(100 * (1 - cOff / cOn), 1)} %); of which the agent process alone: ${fixed(median(ag.map((a) => a.cpuUsPerReq)), 1)} us/req`);
    console.log(`done — ${machineHeader()}`);
  } finally {
    await cleanup();
  }
}

main().catch((err: Error) => {
  console.error(`http-overhead: ${err.message}`);
  process.exitCode = 1;
});
