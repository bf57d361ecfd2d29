// The pseudo-filesystems BPF tooling needs: tracefs (tracepoint ids), bpffs (pinning), cgroup v2.
// ensureMounts() mounts tracefs/bpffs when missing and we are root; it never unmounts.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const TRACEFS = '/sys/kernel/tracing';
export const BPFFS = '/sys/fs/bpf';

export interface MountEntry { source: string; target: string; fstype: string; options: string }

export function mounts(): MountEntry[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').filter(Boolean).map((l) => {
    const [source, target, fstype, options] = l.split(' ');
    return { source, target: target.replace(/\\040/g, ' '), fstype, options };
  });
}

export function isMounted(target: string, fstype: string): boolean {
  return mounts().some((m) => m.target === target && m.fstype === fstype);
}

/** Mount points of cgroup v2 (the unified hierarchy), first is preferred. */
export function cgroup2Mounts(): string[] {
  return mounts().filter((m) => m.fstype === 'cgroup2').map((m) => m.target);
}

export function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

/** Mounts tracefs and bpffs if missing (root only). Returns what it mounted and what it could not. */
export function ensureMounts(): { mounted: string[]; failed: { target: string; error: string }[] } {
  const mounted: string[] = [];
  const failed: { target: string; error: string }[] = [];
  const want: [string, string][] = [];
  if (!existsSync(`${TRACEFS}/events`) && !isMounted(TRACEFS, 'tracefs')) want.push([TRACEFS, 'tracefs']);
  if (!isMounted(BPFFS, 'bpf')) want.push([BPFFS, 'bpf']);
  for (const [target, fstype] of want) {
    if (!isRoot()) { failed.push({ target, error: 'not root' }); continue; }
    try {
      execFileSync('mount', ['-t', fstype, fstype === 'bpf' ? 'bpffs' : 'nodev', target], { stdio: 'pipe' });
      mounted.push(target);
    } catch (err) {
      failed.push({ target, error: String((err as { stderr?: Buffer }).stderr ?? err).trim() });
    }
  }
  return { mounted, failed };
}
