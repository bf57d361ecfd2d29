// Shared by the TCP benchmarks: builds and drives bench/lib/tcp-bench-peer.c inside the namespaces of
// test/helpers/netns.ts, and reads the kernel's own tcp_info per socket (`ss -tin`).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, type Netns } from '../../test/helpers/netns.js';

let binary: string | undefined;

/** Compiles tcp-bench-peer.c once per process (removed at exit). */
export function benchPeerBinary(): string {
  if (binary) return binary;
  const dir = mkdtempSync(join(tmpdir(), 'fl-tcp-bench-'));
  binary = join(dir, 'tcp-bench-peer');
  execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', binary, join(import.meta.dirname, 'tcp-bench-peer.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return binary;
}

export interface BenchServer { port: number; child: ChildProcess; stop(): void }

/** Starts the multi-connection server in `ns` and resolves once it listens. */
export function startBenchServer(ns: Netns, port = 0): Promise<BenchServer> {
  const child = ns.spawn(benchPeerBinary(), ['server', ns.ip4, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error('tcp-bench-peer server did not become ready in 10 s')); }, 10_000);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tcp-bench-peer server exited (${code})`)); });
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /\{"ready":(\d+)\}/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ port: Number(m[1]), child, stop: () => { if (child.exitCode === null) child.kill('SIGKILL'); } });
      }
    });
  });
}

export interface RrProfile { conns: number; count: number; durationMs: number; req: number; resp: number; thinkUs: number; jitterUs: number }
export interface RrReport { pid: number; lports: number[]; exchanges: number; failed: number; elapsedMs: number; perSec: number; p50Us: number; p90Us: number; p99Us: number; cpuMs: number }
export interface BulkReport { pid: number; lport: number; bytes: number; elapsedMs: number; mbitPerSec: number; cpuMs: number }

function rrArgs(server: Netns, port: number, p: RrProfile): string[] {
  return ['rr', server.ip4, String(port), String(p.conns), String(p.count), String(p.durationMs), String(p.req), String(p.resp), String(p.thinkUs), String(p.jitterUs)];
}

/**
 * Starts request/response clients in `ns`; `report` resolves when the clients print their figures (they
 * then hold the connections open holdMs), `done` when the process has exited.
 */
export function startRr(ns: Netns, server: Netns, port: number, p: RrProfile, holdMs = 0): { report: Promise<RrReport>; done: Promise<unknown> } {
  const child = ns.spawn(benchPeerBinary(), rrArgs(server, port, p), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOLD_MS: String(holdMs) } });
  const done = collect(child, `tcp-bench-peer ${rrArgs(server, port, p).join(' ')}`);
  const report = new Promise<RrReport>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"pid"'));
      if (line) resolve(JSON.parse(line) as RrReport);
    });
    done.catch(reject);
    child.on('close', () => reject(new Error('rr client exited without a report')));
  });
  done.catch(() => { /* surfaced through report */ });
  return { report, done };
}

export async function runBulk(ns: Netns, server: Netns, port: number, durationMs: number): Promise<BulkReport> {
  const r = await ns.run(benchPeerBinary(), ['bulk', server.ip4, String(port), String(durationMs)]);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as BulkReport;
}

export interface SsSocket { lport: number; rport: number; srttMs: number; rttvarMs: number; minrttMs: number; cc: string; retrans: number }

/** `ss -tin` of established sockets in `ns`, keyed "localport-peerport". */
export async function ssSockets(ns: Netns): Promise<Map<string, SsSocket>> {
  const text = (await ns.run('ss', ['-tinH', 'state', 'established'])).stdout;
  const out = new Map<string, SsSocket>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i]!.trim().split(/\s+/);
    if (head.length < 4 || !/:\d+$/.test(head[2] ?? '') || !/:\d+$/.test(head[3] ?? '')) continue;
    const lport = Number(head[2]!.split(':').pop());
    const rport = Number(head[3]!.split(':').pop());
    const info = lines[i + 1] ?? '';
    const rtt = /\brtt:([\d.]+)\/([\d.]+)/.exec(info);
    if (!rtt) continue;
    const minrtt = /\bminrtt:([\d.]+)/.exec(info);
    const re = /\bretrans:(\d+)\/(\d+)/.exec(info);
    out.set(`${lport}-${rport}`, {
      lport, rport, srttMs: Number(rtt[1]), rttvarMs: Number(rtt[2]), minrttMs: minrtt ? Number(minrtt[1]) : NaN,
      cc: /^\s*(\w+)\s/.exec(info)?.[1] ?? '?', retrans: re ? Number(re[2]) : 0,
    });
  }
  return out;
}

/** Quantile of a sample (nearest rank on the sorted values). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
