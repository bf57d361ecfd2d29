// What this kernel supports for faultlens, and what falls back to what. Used by `faultlens doctor`
// and by collectors that choose between an accelerated and a portable hook.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { native } from './native.js';
import { cgroup2Mounts, ensureMounts, isMounted, isRoot, TRACEFS, BPFFS } from './mounts.js';

export type Status = 'ok' | 'degraded' | 'missing';

export interface Check {
  area: string;
  name: string;
  status: Status;
  /** What was found, or what is missing and what falls back to what. */
  detail: string;
  /** When missing, faultlens cannot run its core (socket capture). */
  essential: boolean;
}

export interface FeatureReport {
  kernel: string;
  checks: Check[];
  essentialMissing: boolean;
}

/** Tracepoints the probes attach to, by category. */
export const PROJECT_TRACEPOINTS: Record<string, string[]> = {
  syscalls: ['read', 'write', 'readv', 'writev', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg',
    'connect', 'accept', 'accept4', 'close', 'sendfile64', 'splice'].flatMap((s) => [`sys_enter_${s}`, `sys_exit_${s}`]),
  sock: ['inet_sock_set_state', 'sock_send_length', 'sock_recv_length'], // the last two: flows-only probe (6.3+)
  tcp: ['tcp_probe', 'tcp_retransmit_skb', 'tcp_send_reset', 'tcp_receive_reset', 'tcp_rcv_space_adjust', 'tcp_cong_state_set'],
  skb: ['kfree_skb'],
  block: ['block_rq_issue', 'block_rq_complete'],
  sched: ['sched_wakeup', 'sched_switch'],
};

/** Program types the project loads: libbpf name -> [why, essential, fallback when missing]. */
const PROG_TYPES: [string, string, boolean, string][] = [
  ['tracepoint', 'syscall and tcp/sock/sched tracepoints', true, ''],
  ['raw_tracepoint', 'raw tracepoints', false, 'regular tracepoints'],
  ['kprobe', 'uprobes (business events) use this program type', false, 'no business-event capture'],
  ['sched_cls', 'tc programs (fault injection, packet stats)', false, 'no tc-based injection'],
  ['sock_ops', 'per-connection TCP stats', false, 'tcp tracepoints only'],
  ['cgroup_sock', 'socket creation hooks', false, 'syscall tracepoints only'],
  ['cgroup_sock_addr', 'connect/bind hooks (injection)', false, 'no connect-level injection'],
  ['cgroup_sockopt', 'sockopt hooks', false, 'none needed'],
  ['xdp', 'XDP (optional)', false, 'tc'],
  ['tracing', 'fentry/fexit/tp_btf accelerators', false, 'tracepoints and raw tracepoints'],
];

const MAP_TYPES: [string, boolean, string][] = [
  ['ringbuf', true, ''],
  ['hash', true, ''],
  ['array', true, ''],
  ['percpu_array', false, 'shared counters with atomics'],
  ['lru_hash', false, 'hash with user-space expiry'],
  ['sk_storage', false, 'hash keyed by socket cookie'],
];

/** Helpers worth knowing about: [helper, program type probed with, fallback]. */
const HELPERS: [string, string, string][] = [
  ['ringbuf_reserve', 'tracepoint', 'none: ring buffers are required'],
  ['get_socket_cookie', 'sock_ops', 'socket address as id'],
  ['get_attach_cookie', 'kprobe', 'one program per uprobe instead of cookies'],
  ['loop', 'tracepoint', 'bounded unrolled loops (fewer iovecs / mmsgs parsed)'],
  ['probe_read_user', 'tracepoint', 'none'],
  ['get_current_task_btf', 'tracepoint', 'bpf_get_current_task + CO-RE reads'],
  ['get_current_cgroup_id', 'tracepoint', 'no cgroup ids in records'],
];

const CAP = { NET_ADMIN: 12, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 };

function effectiveCaps(): bigint {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
  return line ? BigInt(`0x${line.split(/\s+/)[1]}`) : 0n;
}
const hasCap = (caps: bigint, bit: number) => ((caps >> BigInt(bit)) & 1n) === 1n;

function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = release().split('.').map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}

function probeText(ans: boolean | { errno: number; error: string }): [boolean | undefined, string] {
  if (typeof ans === 'boolean') return [ans, ans ? 'supported' : 'not supported by this kernel'];
  return [undefined, `could not probe: ${ans.error}`];
}

function tracepointExists(category: string, event: string): boolean {
  return existsSync(`${TRACEFS}/events/${category}/${event}`) || existsSync(`/sys/kernel/debug/tracing/events/${category}/${event}`);
}

export interface FeatureProbeOptions {
  /** Mount tracefs/bpffs when missing and raise RLIMIT_MEMLOCK (default true, effective as root). */
  fix?: boolean;
}

export function probeFeatures(opts: FeatureProbeOptions = {}): FeatureReport {
  const fix = opts.fix ?? true;
  const checks: Check[] = [];
  const add = (area: string, name: string, status: Status, detail: string, essential = false) =>
    checks.push({ area, name, status, detail, essential });

  // privilege
  const caps = effectiveCaps();
  const root = isRoot();
  const capBpf = hasCap(caps, CAP.BPF) && hasCap(caps, CAP.PERFMON);
  const capNet = hasCap(caps, CAP.NET_ADMIN);
  if (root || hasCap(caps, CAP.SYS_ADMIN)) add('privilege', 'root / CAP_SYS_ADMIN', 'ok', root ? 'running as root' : 'CAP_SYS_ADMIN', true);
  else if (capBpf) add('privilege', 'CAP_BPF + CAP_PERFMON', capNet ? 'ok' : 'degraded',
    capNet ? 'CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN' : 'no CAP_NET_ADMIN: tc and cgroup programs cannot attach', true);
  else add('privilege', 'root / CAP_BPF', 'missing', `uid ${process.geteuid?.()} without CAP_BPF+CAP_PERFMON: run as root`, true);

  // runtime environment
  let mountNote = '';
  if (fix) {
    const r = ensureMounts();
    if (r.mounted.length) mountNote = ` (mounted ${r.mounted.join(', ')} now)`;
  }
  add('environment', 'tracefs', existsSync(`${TRACEFS}/events`) ? 'ok' : 'missing',
    existsSync(`${TRACEFS}/events`) ? `${TRACEFS}${mountNote}` : `not mounted at ${TRACEFS}: mount -t tracefs nodev ${TRACEFS}`, true);
  add('environment', 'bpffs', isMounted(BPFFS, 'bpf') ? 'ok' : 'degraded',
    isMounted(BPFFS, 'bpf') ? BPFFS : `not mounted at ${BPFFS}: no pinning (objects live only while faultlens runs)`);
  const cg2 = cgroup2Mounts();
  add('environment', 'cgroup v2', cg2.length ? 'ok' : 'degraded',
    cg2.length ? cg2.join(', ') : 'no cgroup2 mount: cgroup hooks unavailable, records carry no cgroup ids');
  const ml = native().memlock(fix);
  const mlOk = ml.after === -1 || kernelAtLeast(5, 11);
  add('environment', 'memlock rlimit', mlOk ? 'ok' : 'degraded',
    `${ml.after === -1 ? 'unlimited' : `${ml.after} bytes`}${ml.before !== ml.after ? ' (raised from ' + ml.before + ')' : ''}` +
    (ml.error ? ` (cannot raise: ${ml.error})` : '') +
    (ml.after !== -1 ? (kernelAtLeast(5, 11) ? '; kernel >= 5.11 accounts BPF memory to the memcg instead' : '; maps may fail to allocate') : ''));

  // BTF
  const btf = existsSync('/sys/kernel/btf/vmlinux') ? native().vmlinuxBtf() : { ok: false, error: '/sys/kernel/btf/vmlinux missing' };
  add('kernel', 'BTF (CO-RE)', btf.ok ? 'ok' : 'missing',
    btf.ok ? `/sys/kernel/btf/vmlinux, ${(btf as { types?: number }).types} types` : `${btf.error}: kernel needs CONFIG_DEBUG_INFO_BTF`, true);

  // program, map types, helpers (the probes themselves need privilege)
  const en = native().enums();
  for (const [name, why, essential, fallback] of PROG_TYPES) {
    const [ok, text] = probeText(native().probeProgType(en.progTypes[name]));
    const status: Status = ok ? 'ok' : essential ? 'missing' : 'degraded';
    add('program type', name, status, ok ? why : `${text}${fallback ? `: falls back to ${fallback}` : ''}`, essential);
  }
  for (const [name, essential, fallback] of MAP_TYPES) {
    const [ok, text] = probeText(native().probeMapType(en.mapTypes[name]));
    add('map type', name, ok ? 'ok' : essential ? 'missing' : 'degraded', ok ? text : `${text}${fallback ? `: falls back to ${fallback}` : ''}`, essential);
  }
  for (const [helper, progType, fallback] of HELPERS) {
    const [ok, text] = probeText(native().probeHelper(en.progTypes[progType], en.helpers[helper]));
    add('helper', `bpf_${helper}`, ok ? 'ok' : 'degraded', ok ? `available to ${progType} programs` : `${text}: ${fallback}`);
  }

  // attach mechanisms that are not program types
  add('hook', 'uprobe PMU', existsSync('/sys/bus/event_source/devices/uprobe') ? 'ok' : 'degraded',
    existsSync('/sys/bus/event_source/devices/uprobe') ? '/sys/bus/event_source/devices/uprobe' : 'no uprobe PMU: business events unavailable');
  const kprobe = existsSync('/sys/bus/event_source/devices/kprobe') || existsSync(`${TRACEFS}/kprobe_events`);
  add('hook', 'kprobes', kprobe ? 'ok' : 'degraded',
    kprobe ? 'kprobe PMU present (accelerators possible)' : 'absent (no kprobe PMU, no kprobe_events): tracepoints are used instead');

  const tcx = kernelAtLeast(6, 6);
  add('hook', 'tcx links', tcx ? 'ok' : 'degraded', tcx
    ? 'kernel >= 6.6: tc programs can attach as links that die with the agent (attachTc mode tcx)'
    : 'kernel < 6.6: tc programs use netlink filters, removed by exit handlers (not on SIGKILL)');

  // tracepoints the project attaches to
  for (const [cat, events] of Object.entries(PROJECT_TRACEPOINTS)) {
    const missing = events.filter((e) => !tracepointExists(cat, e));
    const essential = cat === 'syscalls';
    const status: Status = missing.length === 0 ? 'ok' : essential && missing.some((m) => !/sendfile64|splice/.test(m)) ? 'missing' : 'degraded';
    add('tracepoints', cat, status, missing.length === 0 ? `${events.length} present` :
      `missing ${missing.join(', ')}${essential ? '' : missing.every((m) => m.endsWith('_length'))
        ? ': flows-only capture counts through the syscall probe instead (slower)' : ': the probes using them stay off'}`, essential);
  }

  return { kernel: release(), checks, essentialMissing: checks.some((c) => c.essential && c.status === 'missing') };
}

/** Plain-text table of a report: STATUS  AREA  CHECK  DETAIL. */
export function formatReport(r: FeatureReport): string {
  const label: Record<Status, string> = { ok: 'OK', degraded: 'DEGRADED', missing: 'MISSING' };
  const rows = r.checks.map((c) => [label[c.status], c.area, c.name, c.detail]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), ['STATUS', 'AREA', 'CHECK'][i].length));
  const line = (row: string[]) => row.map((cell, i) => (i < 3 ? cell.padEnd(w[i]) : cell)).join('  ');
  const summary = r.essentialMissing
    ? 'faultlens cannot run here: fix the MISSING essentials above.'
    : `faultlens can run on kernel ${r.kernel}${r.checks.some((c) => c.status !== 'ok') ? ' (DEGRADED rows say what falls back to what)' : ''}.`;
  return [line(['STATUS', 'AREA', 'CHECK', 'DETAIL']), ...rows.map(line), '', summary].join('\n');
}

/** Names of all tracepoints in a category (helpers for collectors that want to check before attaching). */
export function listTracepoints(category: string): string[] {
  try {
    return readdirSync(`${TRACEFS}/events/${category}`).filter((e) => !['enable', 'filter'].includes(e));
  } catch {
    return [];
  }
}
