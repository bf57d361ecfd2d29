// Drives test/helpers/sock-peer.c: compiles it once per test process, starts a server (optionally inside
// a network namespace), waits until it listens, and runs clients — each reporting its pid and ports.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, type Netns, type RunResult } from './netns.js';

const SOURCE = join(import.meta.dirname, 'sock-peer.c');
let binary: string | undefined;
let dir: string | undefined;

/** Path of the compiled peer (named sock-peer: that is the comm the probe reports). */
export function sockPeerBinary(): string {
  if (binary) return binary;
  dir = mkdtempSync(join(tmpdir(), 'fl-sock-peer-'));
  binary = join(dir, 'sock-peer');
  execFileSync('gcc', ['-O1', '-Wall', '-o', binary, SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.on('exit', () => { if (dir) rmSync(dir, { recursive: true, force: true }); });
  return binary;
}

export interface PeerReport { pid: number; lport: number; rport: number; sent: number; received: number }

function spawnPeer(ns: Netns | undefined, args: string[], env: Record<string, string> = {}): ChildProcess {
  const bin = sockPeerBinary();
  const opts = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, ...env } };
  return ns ? ns.spawn(bin, args, opts) : spawn(bin, args, opts);
}

function lastJson<T>(r: RunResult): T {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

export interface RunningServer { port: number; done: Promise<PeerReport>; kill(): void }

/** Starts `sock-peer server ...` and resolves once it is bound (port 0 = pick one). */
export function startServer(ns: Netns | undefined, args: string[]): Promise<RunningServer> {
  const child = spawnPeer(ns, ['server', ...args]);
  const done = collect(child, `sock-peer server ${args.join(' ')}`).then((r) => lastJson<PeerReport>(r));
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error('sock-peer server did not become ready')); }, 5000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /\{"ready":(\d+)\}/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), done, kill: () => child.kill() });
      }
    });
    done.catch((err) => { clearTimeout(timer); reject(err); });
  });
}

/** Runs a sock-peer client (or another sock-peer mode) to completion and returns its report. */
export async function runPeer<T = PeerReport>(ns: Netns | undefined, args: string[], env?: Record<string, string>): Promise<T> {
  return lastJson<T>(await collect(spawnPeer(ns, args, env), `sock-peer ${args.join(' ')}`));
}
