// Runs wrk and parses its --latency report.
import { spawn } from 'node:child_process';

export interface WrkResult {
  requests: number; seconds: number; reqPerSec: number;
  p50Ms: number; p75Ms: number; p90Ms: number; p99Ms: number;
  socketErrors: number; non2xx: number; raw: string;
  cpuSeconds: number; // wrk's own user+sys CPU time
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  return unit === 'us' ? v / 1000 : unit === 'ms' ? v : unit === 's' ? v * 1000 : unit === 'm' ? v * 60_000 : NaN;
}

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => { const m = re.exec(out); return m ? Number(m[1]) : NaN; };
  const pct = (p: number) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const r: WrkResult = {
    requests: num(/(\d+) requests in ([\d.]+)/),
    seconds: NaN,
    reqPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: pct(50), p75Ms: pct(75), p90Ms: pct(90), p99Ms: pct(99),
    socketErrors: sock ? sock.slice(1).reduce((a, x) => a + Number(x), 0) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    raw: out,
    cpuSeconds: NaN,
  };
  const m = /\d+ requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  if (m) r.seconds = toMs(m[1], m[2]) / 1000;
  if (!Number.isFinite(r.reqPerSec) || !Number.isFinite(r.p99Ms)) throw new Error(`could not parse wrk output:\n${out}`);
  return r;
}

/** wrk -t<threads> -c<connections> -d<seconds>s --latency URL; `cpus` pins wrk to those CPUs (taskset -c). */
export function runWrk(url: string, o: { threads: number; connections: number; seconds: number; cpus?: string }): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    // The shell waits for wrk, then prints its own /proc stat line, whose cutime/cstime are wrk's CPU time.
    const pin = o.cpus ? `taskset -c ${o.cpus} ` : '';
    const cmd = `${pin}wrk -t${o.threads} -c${o.connections} -d${o.seconds}s --latency '${url}' && echo "@@stat $(cat /proc/$$/stat)"`;
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}: ${err}${out}`));
      else {
        try {
          const r = parseWrk(out);
          const stat = /^@@stat (.*)$/m.exec(out);
          if (stat) {
            const f = stat[1].slice(stat[1].lastIndexOf(')') + 2).split(' '); // f[0] = field 3
            r.cpuSeconds = (Number(f[13]) + Number(f[14])) / 100; // cutime + cstime (fields 16, 17), USER_HZ
          }
          resolve(r);
        } catch (e) { reject(e); }
      }
    });
  });
}
