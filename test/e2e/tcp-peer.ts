// Drives test/e2e/tcp-peer.c (compiled once per test process) inside the namespaces of test/helpers/netns.ts.
import { before, after } from 'node:test';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpCollector } from '../../src/collect/tcp-collector.js';
import type { TcpEvent } from '../../src/model/tcp.js';
import { collect, createNetnsPair, type Netns, type NetnsPair } from '../helpers/netns.js';

let binary: string | undefined;

export function tcpPeerBinary(): string {
  if (binary) return binary;
  const dir = mkdtempSync(join(tmpdir(), 'fl-tcp-peer-'));
  binary = join(dir, 'tcp-peer');
  execFileSync('gcc', ['-O1', '-Wall', '-o', binary, join(import.meta.dirname, 'tcp-peer.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return binary;
}

export interface PeerServer { port: number; child: ChildProcess; done: Promise<Record<string, number>>; kill(): void }

function lastJson(stdout: string): Record<string, number> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
}

/** Starts a server mode and resolves once it listens. */
export function startPeerServer(ns: Netns, args: string[], env: Record<string, string> = {}): Promise<PeerServer> {
  const child = ns.spawn(tcpPeerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const done = collect(child, `tcp-peer ${args.join(' ')}`).then((r) => lastJson(r.stdout));
  done.catch(() => { /* reported by whoever awaits it */ });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error(`tcp-peer ${args[0]} did not become ready`)); }, 5000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /\{"ready":(\d+)\}/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, done, kill: () => child.kill() });
      }
    });
  });
}

/** Runs a client mode to completion; returns its JSON report. */
export async function runPeer(ns: Netns, args: string[], env: Record<string, string> = {}): Promise<Record<string, number>> {
  const r = await ns.run(tcpPeerBinary(), args, { env: { ...process.env, ...env } });
  return lastJson(r.stdout);
}

export const TCP_OBJECT = join(import.meta.dirname, '..', '..', 'bpf', '.output', 'tcp.bpf.o');

/** Why the TCP e2e tests cannot run here, or undefined when they can. */
export function tcpE2eSkipReason(): string | undefined {
  if (process.geteuid?.() !== 0) return 'needs root (BPF, network namespaces)';
  if (!existsSync(TCP_OBJECT)) return 'bpf/.output/tcp.bpf.o not built (make -C bpf)';
  return undefined;
}

/** Two namespace hosts and the TCP collector watching both, for one test file; `events` fills as it runs. */
export interface TcpHosts { pair: NetnsPair; collector: TcpCollector; readonly events: TcpEvent[] }

/** Registers the file's before/after hooks; pair and collector are set once `before` has run (unless skipped). */
export function useTcpHosts(skip: string | undefined): TcpHosts {
  const hosts = { events: [] as TcpEvent[] } as TcpHosts;
  before(() => {
    if (skip) return;
    hosts.pair = createNetnsPair();
    hosts.collector = new TcpCollector({ objectPath: TCP_OBJECT, netns: [hosts.pair.a.inode, hosts.pair.b.inode], onEvents: (e) => hosts.events.push(...e) }).start();
  });
  after(() => {
    hosts.collector?.close();
    hosts.pair?.destroy();
  });
  return hosts;
}

/** TcpExt/Tcp counters of a namespace (its /proc/net/netstat and /proc/net/snmp), e.g. 'TcpExt.ListenOverflows'. */
export async function netnsCounters(ns: Netns): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/netstat', '/proc/net/snmp']) {
    const lines = (await ns.run('cat', [file])).stdout.trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.split(/\s+/);
      const values = lines[i + 1]!.split(/\s+/);
      const prefix = names[0]!.replace(/:$/, '');
      for (let j = 1; j < names.length; j++) out.set(`${prefix}.${names[j]}`, Number(values[j]));
    }
  }
  return out;
}

/** `ss -tin` inside a namespace, parsed per local port: the kernel's own tcp_info figures. */
export async function ssTcpInfo(ns: Netns): Promise<Map<number, Record<string, number>>> {
  const text = (await ns.run('ss', ['-tinH', 'state', 'established'])).stdout;
  const out = new Map<number, Record<string, number>>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i]!.trim().split(/\s+/);
    if (head.length < 4 || !/:\d+$/.test(head[2] ?? '')) continue;
    const lport = Number(head[2]!.split(':').pop());
    const info = lines[i + 1] ?? '';
    const rec: Record<string, number> = {};
    const rtt = /\brtt:([\d.]+)\/([\d.]+)/.exec(info);
    if (rtt) { rec.srttMs = Number(rtt[1]); rec.rttvarMs = Number(rtt[2]); }
    for (const k of ['cwnd', 'mss', 'minrtt', 'ssthresh']) {
      const m = new RegExp(`\\b${k}:([\\d.]+)`).exec(info);
      if (m) rec[k] = Number(m[1]);
    }
    const dr = /\bdelivery_rate ([\d.]+)([KMG]?)bps/.exec(info);
    if (dr) rec.deliveryRateBitsPerSec = Number(dr[1]) * ({ '': 1, K: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[dr[2]!]!;
    const ba = /\bbytes_acked:(\d+)/.exec(info);
    if (ba) rec.bytesAcked = Number(ba[1]);
    const re = /\bretrans:(\d+)\/(\d+)/.exec(info);
    rec.totalRetrans = re ? Number(re[2]) : 0;
    out.set(lport, rec);
  }
  return out;
}
