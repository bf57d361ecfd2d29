// The foundation's (issue 2) two targets in one run: records/s the agent decodes and folds into flows
// (decode-fold, synthetic batches, one core: >= 1,000,000/s) and the throughput and p99 of a loopback
// HTTP server under wrk with socket capture off vs on (http-overhead --alternate: the flows-only agent,
// its probes detached and re-attached between adjacent windows: <= 5 % loss). Each bench runs as it would
// alone, its output shown as it comes; a summary of both verdicts closes the run.
//
//   node --import tsx bench/foundation.ts [--rounds 30] [--duration 5]      (root: the HTTP part attaches probes)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { numArg } from './lib/args.js';
import { machineHeader } from './lib/report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs bench/NAME.ts, echoing its output; resolves with that output and the exit code. */
function runBench(name: string, args: string[]): Promise<{ out: string; code: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`${name}.ts`, import.meta.url)), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d;
      process.stdout.write(d);
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ out, code: code ?? 1 }));
  });
}

async function main(): Promise<void> {
  console.log(`faultlens bench foundation — ${machineHeader()}\n`);
  const fold = await runBench('decode-fold', []);
  console.log('');
  const http = await runBench('http-overhead', ['--modes', 'off,flows', '--alternate', '--rounds', String(numArg('rounds', 30)), '--duration', String(numArg('duration', 5)), '--no-bpf-stats']);
  const foldLine = /^decode\+fold \(the agent's path\): (.*)$/m.exec(fold.out)?.[1];
  const httpLine = /^\[flows\] paired throughput ratio (.*)$/m.exec(http.out)?.[1];
  console.log(`\n# foundation targets in this run (${machineHeader()})`);
  console.log(`decode + fold, one core, synthetic batches (>= 1,000,000 records/s): ${foldLine ?? `no result (decode-fold exited ${fold.code})`}`);
  console.log(`loopback HTTP under wrk, socket capture on vs off (<= 5 % throughput loss; p99 ratio): ${httpLine ?? `no result (http-overhead exited ${http.code})`}`);
  if (fold.code || http.code || !foldLine || !httpLine) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`foundation: ${err.message}`);
  process.exitCode = 1;
});
