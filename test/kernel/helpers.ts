// Shared by the kernel tests: fixture paths and what the kernel says is loaded/attached.
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/kernel/native.js';

export const ROOT = repoRoot();
export const FIXTURE = join(ROOT, 'bpf', '.output', 'fixtures', 'kernel_fixture.bpf.o');
export const BAD_FIXTURE = join(ROOT, 'bpf', '.output', 'fixtures', 'bad_verifier.bpf.o');
/** Program names in kernel_fixture.bpf.c (kernel names are cut at 15 chars). */
export const FIXTURE_PROGS = ['count_write', 'raw_sys_enter', 'btf_sys_enter', 'uprobe_hit', 'uretprobe_hit', 'sock_create', 'connect4', 'sockops_count', 'getsockopt_count', 'tc_count', 'fine', 'bad_deref'];

export const isRoot = process.geteuid?.() === 0;

function bpftoolJson<T>(...args: string[]): T {
  return JSON.parse(execFileSync('bpftool', [...args, '-j'], { encoding: 'utf8' }) || '[]') as T;
}

/** Kernel-wide: loaded programs carrying one of the fixture's names, and links pointing at them. */
export function fixtureKernelState(): { progs: number; links: number } {
  const progs = bpftoolJson<{ id: number; name?: string }[]>('prog', 'show')
    .filter((p) => p.name && FIXTURE_PROGS.some((n) => n.slice(0, 15) === p.name!.slice(0, 15))); // kernel names stop at 15 chars; bpftool may print the BTF name
  const ids = new Set(progs.map((p) => p.id));
  const links = bpftoolJson<{ prog_id?: number }[]>('link', 'show').filter((l) => l.prog_id !== undefined && ids.has(l.prog_id));
  return { progs: progs.length, links: links.length };
}

/** fixtureKernelState() once it equals `expected`, or after timeoutMs the last reading: a closed program
 * is freed after an RCU grace period (tc filter removal drops its reference from a callback), so right
 * after close() bpftool may still list it for a moment. */
export function settledKernelState(expected: { progs: number; links: number }, timeoutMs = 3000): { progs: number; links: number } {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = fixtureKernelState();
    if ((s.progs === expected.progs && s.links === expected.links) || Date.now() > end) return s;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

/** The state a test starts from: what an earlier test closed may still be freeing, so wait (briefly) for
 * none of the fixture's programs to be loaded. */
export function kernelBaseline(): { progs: number; links: number } {
  return settledKernelState({ progs: 0, links: 0 }, 1000);
}

/** BPF program/link/map fds this process holds (anon inodes). */
export function ownBpfFds(): { prog: number; link: number; map: number } {
  const out = { prog: 0, link: 0, map: 0 };
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try { target = readlinkSync(`/proc/self/fd/${fd}`); } catch { continue; }
    if (target === 'anon_inode:bpf-prog') out.prog++;
    else if (target === 'anon_inode:bpf_link' || target === 'anon_inode:bpf-link') out.link++;
    else if (target === 'anon_inode:bpf-map') out.map++;
  }
  return out;
}

export function sh(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

export const skipUnlessRoot = isRoot ? false : 'needs root (loads BPF programs)';

/** Two network namespaces joined by a veth pair with 10.213.X.1/.2 addresses (names prefixed fl-). */
export interface VethPair { nsA: string; nsB: string; ifA: string; ifB: string; ipA: string; ipB: string; destroy(): void }

export function createVethPair(tag: string, subnet = 213): VethPair {
  const nsA = `fl-${tag}a-${process.pid}`, nsB = `fl-${tag}b-${process.pid}`;
  const ifA = 'fl-va', ifB = 'fl-vb', ipA = `10.${subnet}.0.1`, ipB = `10.${subnet}.0.2`;
  const destroy = () => {
    sh('ip', ['netns', 'del', nsA], { allowFail: true });
    sh('ip', ['netns', 'del', nsB], { allowFail: true });
  };
  destroy();
  try {
    sh('ip', ['netns', 'add', nsA]);
    sh('ip', ['netns', 'add', nsB]);
    sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    sh('ip', ['-n', nsA, 'addr', 'add', `${ipA}/24`, 'dev', ifA]);
    sh('ip', ['-n', nsB, 'addr', 'add', `${ipB}/24`, 'dev', ifB]);
    for (const [ns, dev] of [[nsA, ifA], [nsB, ifB], [nsA, 'lo'], [nsB, 'lo']]) sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  } catch (err) {
    destroy();
    throw err;
  }
  return { nsA, nsB, ifA, ifB, ipA, ipB, destroy };
}

export const PYTHON = '/usr/bin/python3';

/** Sends `count` UDP datagrams from inside netns `ns` to ip:port (python: no node startup cost per packet). */
export function sendUdp(ns: string, ip: string, port: number, count: number): void {
  sh('ip', ['netns', 'exec', ns, PYTHON, '-c',
    `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${count}): s.sendto(b'fl', ('${ip}', ${port}))`]);
}

/** Our tc filters and clsact qdisc on dev in ns, as `tc` reports them. */
export function tcState(ns: string, dev: string): { clsact: boolean; ingress: string; egress: string } {
  const q = sh('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'show', 'dev', dev], { allowFail: true });
  const ingress = sh('ip', ['netns', 'exec', ns, 'tc', 'filter', 'show', 'dev', dev, 'ingress'], { allowFail: true }).trim();
  const egress = sh('ip', ['netns', 'exec', ns, 'tc', 'filter', 'show', 'dev', dev, 'egress'], { allowFail: true }).trim();
  const net = JSON.parse(sh('ip', ['netns', 'exec', ns, 'bpftool', 'net', 'show', 'dev', dev, '-j'], { allowFail: true }) || '[]');
  const bpftoolTc = (net[0]?.tc ?? []).map((t: { name?: string }) => t.name).join(',');
  // tc and bpftool must agree: a filter one of them sees is a filter left behind
  if (Boolean(bpftoolTc) !== Boolean(ingress || egress)) throw new Error(`tc says ${ingress}|${egress}, bpftool says ${bpftoolTc}`);
  return { clsact: /qdisc clsact/.test(q), ingress, egress };
}

/** Polls until fn() is truthy or the timeout passes (for events delivered on the loop). */
export async function waitFor(fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

/** Whether a tcx link points at a fixture program (bpftool 7.1 predates tcx: it shows link type 11 raw, no ifindex). */
export function tcxAttached(): boolean {
  const progIds = new Set(bpftoolJson<{ id: number; name?: string }[]>('prog', 'show')
    .filter((p) => p.name && FIXTURE_PROGS.some((n) => n.slice(0, 15) === p.name!.slice(0, 15))).map((p) => p.id));
  return bpftoolJson<{ type?: string | number; prog_id?: number }[]>('link', 'show')
    .some((l) => (l.type === 11 || l.type === 'tcx') && l.prog_id !== undefined && progIds.has(l.prog_id));
}
