// Shared by the injection tests: the peer script, what the kernel has attached, and skip reasons.
import { before, after } from 'node:test';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INJECT_OBJECT, InjectEngine } from '../../src/inject/index.js';
import { cgroup2Mounts } from '../../src/kernel/index.js';
import { collect, createNetnsPair, type Netns, type NetnsPair } from '../helpers/netns.js';

export const HTTP_PEER = join(import.meta.dirname, 'http-peer.mjs');

export function injectSkipReason(): string | false {
  if (process.geteuid?.() !== 0) return 'needs root (BPF, network namespaces)';
  if (!existsSync(INJECT_OBJECT)) return 'bpf/.output/inject.bpf.o not built (make -C bpf)';
  return false;
}

/** A private registry directory for one test file (so parallel test files never see each other's faults). */
export function tempRegistry(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fl-inject-reg-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function peer<T = Record<string, unknown>>(ns: Netns, args: string[]): Promise<T> {
  const r = await ns.run('node', [HTTP_PEER, ...args]);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

export interface HttpServer { port: number; child: ChildProcess; stop(): void }

export function startHttpServer(ns: Netns, addr = ns.ip4): Promise<HttpServer> {
  const child = ns.spawn('node', [HTTP_PEER, 'server', addr, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error('http-peer server did not start')); }, 5000);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"ready":(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, stop: () => child.kill() });
      }
    });
  });
}

/** Two namespace hosts, an engine with a private registry and an HTTP server on host b, for one test file. */
export interface InjectHosts { pair: NetnsPair; engine: InjectEngine; http: HttpServer }

/** Registers the file's before/after hooks; the fields are set once `before` has run (unless skipped). */
export function useInjectHosts(skip: string | false): InjectHosts {
  const hosts = {} as InjectHosts;
  before(async () => {
    if (skip) return;
    hosts.pair = createNetnsPair();
    hosts.engine = new InjectEngine({ registry: tempRegistry() });
    hosts.http = await startHttpServer(hosts.pair.b);
  });
  after(() => {
    hosts.engine?.close();
    hosts.http?.stop();
    hosts.pair?.destroy();
  });
  return hosts;
}

export type ConnectResult = { ok?: boolean; error?: string; ms: number };
export type ClientReport = Record<string, { ok: number; fail: number; errors: Record<string, number>; maxMs: number }>;

function bpftoolJson<T>(...args: string[]): T {
  return JSON.parse(execFileSync('bpftool', [...args, '-j'], { encoding: 'utf8' }) || '[]') as T;
}

/** Loaded programs named inject_* and the links pointing at them, kernel-wide (filtered by prog ids if given). */
export function injectKernelState(): { progIds: number[]; links: { id: number; type: string | number; prog_id: number }[] } {
  const progs = bpftoolJson<{ id: number; name?: string }[]>('prog', 'show').filter((p) => p.name?.startsWith('inject_'));
  const ids = new Set(progs.map((p) => p.id));
  const links = bpftoolJson<{ id: number; type: string | number; prog_id?: number }[]>('link', 'show')
    .filter((l) => l.prog_id !== undefined && ids.has(l.prog_id)) as { id: number; type: string | number; prog_id: number }[];
  return { progIds: [...ids], links };
}

/** `tc filter show` output for both hooks of an interface inside a namespace ('' when there is no clsact). */
export function tcFilters(netns: string, ifname: string): string {
  let out = '';
  for (const dir of ['ingress', 'egress']) {
    try {
      out += execFileSync('tc', ['-n', netns, 'filter', 'show', 'dev', ifname, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch { /* no clsact qdisc: nothing attached */ }
  }
  return out;
}

/** Programs `bpftool cgroup tree` shows anywhere in the cgroup v2 hierarchy. */
export function cgroupTreeProgs(): { id: number; name: string }[] {
  const root = cgroup2Mounts()[0];
  if (!root) return [];
  const tree = bpftoolJson<{ cgroup: string; programs: { id: number; name?: string }[] }[]>('cgroup', 'tree', root);
  return tree.flatMap((c) => (c.programs ?? []).map((p) => ({ id: p.id, name: p.name ?? '' })));
}

/** What appeared in the kernel since `before` (other test files may hold faults at the same time). */
export function newInjectState(before: ReturnType<typeof injectKernelState>): { progIds: number[]; linkIds: number[] } {
  const now = injectKernelState();
  const oldProgs = new Set(before.progIds);
  const oldLinks = new Set(before.links.map((l) => l.id));
  return { progIds: now.progIds.filter((id) => !oldProgs.has(id)), linkIds: now.links.map((l) => l.id).filter((id) => !oldLinks.has(id)) };
}

/** Which of these programs / links still exist, and which cgroup attachments still point at the programs. */
export function stillThere(ids: { progIds: number[]; linkIds: number[] }): { progs: number[]; links: number[]; cgroup: string[] } {
  const now = injectKernelState();
  const progs = new Set(ids.progIds);
  return {
    progs: now.progIds.filter((id) => progs.has(id)),
    links: now.links.map((l) => l.id).filter((id) => ids.linkIds.includes(id)),
    cgroup: cgroupTreeProgs().filter((p) => progs.has(p.id)).map((p) => p.name),
  };
}

/** `bpftool net` (the host namespace's tc/xdp view) as text, or inside a namespace. */
export function bpftoolNet(netns?: string): string {
  const args = netns ? ['netns', 'exec', netns, 'bpftool', 'net'] : ['bpftool', 'net'];
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ProbeResult = { t: number; ok: boolean; error?: string }[];

/**
 * Starts a connect prober inside ns (connects every intervalMs); call go() right after the event to measure
 * from, then await results (t = ms after go).
 */
export async function startProbe(ns: Netns, addr: string, port: number, intervalMs: number, durationMs: number, timeoutMs: number):
  Promise<{ go(): void; results: Promise<ProbeResult> }> {
  const child = ns.spawn('node', [HTTP_PEER, 'probe', addr, String(port), String(intervalMs), String(durationMs), String(timeoutMs)],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  const results = collect(child, 'probe').then((r) => JSON.parse(r.stdout.trim().split('\n').pop()!) as ProbeResult);
  results.catch(() => { /* reported by whoever awaits it */ });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { go: () => child.stdin!.write('go\n'), results };
}

/** First t after which every probe succeeded (undefined if the last one failed). */
export function recoveredAt(r: ProbeResult): number | undefined {
  let at: number | undefined;
  for (const x of r) {
    if (!x.ok) at = undefined;
    else if (at === undefined) at = x.t;
  }
  return at;
}
