// `faultlens inject`: scoped, expiring faults (loss, blackhole, refused connects, HTTP request faults, TCP knobs).
// A fault lives as long as the process holding it: by default the command starts a background holder
// (`--foreground` of itself) and returns once the fault is active; with --foreground it holds the fault in
// this terminal until its TTL or Ctrl-C. Either way the kernel side expires at the deadline on its own.
import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import { InjectEngine, FaultSpecError, removeStaleTcFilters, type ActiveFault, type FaultSpec, type InjectEvent } from '../../inject/index.js';
import { recordFaultEvents } from '../../inject/record.js';
import { openStore, type Store } from '../../store/index.js';

interface ScopeOpts {
  netns?: string; ifname?: string[]; cgroup?: string; service?: string; pid?: number; localIp?: string; remoteIp?: string;
  localPort?: number; remotePort?: number; proto?: 'tcp' | 'udp'; direction?: 'ingress' | 'egress' | 'both';
  allTraffic?: boolean; ttl: number; label?: string; json?: boolean; foreground?: boolean; store?: string; tcMode?: 'tcx' | 'netlink';
}

const int = (what: string) => (v: string): number => {
  if (!/^\d+$/.test(v)) throw new Error(`${what} must be a non-negative integer, got '${v}'`);
  return Number(v);
};
const num = (what: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${what} must be a number, got '${v}'`);
  return n;
};
const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter(Boolean)];

/** '10mbit', '1.5MB', '500kbit', '125000' (bytes/s) -> bytes per second. */
export function parseRate(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|b|kb|mb|gb)?(?:\/s|ps)?$/i.exec(v.trim());
  if (!m) throw new Error(`rate '${v}': use bytes/s or a unit: 10mbit, 500kbit, 2MB`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult: Record<string, number> = { bit: 1 / 8, kbit: 125, mbit: 125_000, gbit: 125_000_000, b: 1, kb: 1000, mb: 1_000_000, gb: 1_000_000_000 };
  return Math.round(Number(m[1]) * mult[unit]!);
}

function withScope(cmd: Command, packet: boolean): Command {
  cmd.option('--netns <name>', packet ? 'network namespace (`ip netns` name) whose interfaces get the fault' : 'only sockets of this network namespace')
    .requiredOption('--ttl <seconds>', 'lifetime; the kernel ignores the fault after it even if faultlens dies', num('--ttl'))
    .option('--local-ip <cidr>', 'local address (ours) to match').option('--remote-ip <cidr>', 'peer address to match')
    .option('--local-port <port>', 'local port to match', int('--local-port')).option('--remote-port <port>', 'peer port to match', int('--remote-port'))
    .addOption(new Option('--proto <proto>', 'transport to match').choices(['tcp', 'udp']))
    .option('--all-traffic', 'allow a fault without a narrowing scope (host-wide)')
    .option('--label <text>', 'free text shown in `inject ls` and the timeline')
    .option('--foreground', 'hold the fault in this process until the TTL or Ctrl-C (default: a background holder)')
    .option('--store <url>', 'also record the fault in this store (duckdb:///path, clickhouse://...)')
    .option('--json', 'print the fault as JSON');
  if (packet) {
    cmd.option('--ifname <if,...>', 'interfaces (default: every interface of --netns except lo)', list)
      .addOption(new Option('--direction <dir>', 'packets arriving, leaving, or both').choices(['ingress', 'egress', 'both']))
      .addOption(new Option('--tc-mode <mode>', 'tcx links (die with the holder) or netlink clsact filters (kernels < 6.6; outlive a killed holder until `inject stop --all`)')
        .choices(['tcx', 'netlink']));
  } else {
    cmd.option('--cgroup <path>', 'cgroup v2 directory (absolute or relative to the cgroup v2 mount)')
      .option('--service <name>', 'a systemd service: cgroup system.slice/<name>.service')
      .option('--pid <pid>', 'only this process', int('--pid'));
  }
  return cmd;
}

function scopeOf(o: ScopeOpts): FaultSpec['scope'] {
  if (o.service && o.cgroup) throw new FaultSpecError('give --service or --cgroup, not both');
  const s: FaultSpec['scope'] = {
    netns: o.netns, ifname: o.ifname, cgroup: o.service ? `system.slice/${o.service.replace(/\.service$/, '')}.service` : o.cgroup,
    pid: o.pid, localIp: o.localIp, remoteIp: o.remoteIp, localPort: o.localPort, remotePort: o.remotePort, proto: o.proto, direction: o.direction,
  };
  for (const k of Object.keys(s) as (keyof typeof s)[]) if (s[k] === undefined) delete s[k];
  return s;
}

function common(o: ScopeOpts) {
  return { ttlSec: o.ttl, scope: scopeOf(o), ...(o.allTraffic ? { allTraffic: true } : {}), ...(o.label ? { label: o.label } : {}) };
}

function remaining(f: { deadlineMs: number }): string {
  const s = Math.max(0, Math.round((f.deadlineMs - Date.now()) / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

function summary(f: ActiveFault): string {
  return `${f.id}: ${f.description}${f.spec.label ? ` "${f.spec.label}"` : ''}, ${remaining(f)} left (until ${new Date(f.deadlineMs).toLocaleTimeString()}), holder pid ${f.ownerPid}`;
}

/** Re-runs this very command line with --foreground as a detached holder; returns once it reports the fault. */
async function startHolder(json: boolean): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1), '--foreground', '--json'],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const line = await new Promise<string | undefined>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', () => resolve(undefined));
  });
  if (!line) throw new Error(err.trim().replace(/^faultlens: /, '') || 'the fault holder exited without injecting');
  child.stdout!.destroy();
  child.stderr!.destroy();
  child.unref();
  const f = JSON.parse(line) as ActiveFault;
  console.log(json ? JSON.stringify(f) : `injected ${summary(f)}\nstop it with: faultlens inject stop ${f.id}`);
}

async function hold(spec: unknown, o: ScopeOpts): Promise<void> {
  if (!o.foreground) return startHolder(Boolean(o.json));
  let store: Store | undefined;
  if (o.store) store = await openStore(o.store);
  const events: InjectEvent[] = [];
  const engine = new InjectEngine({ tcMode: o.tcMode, onEvent: (e) => { events.push(e); if (store) recordFaultEvents(store)(e); } });
  let f: ActiveFault;
  try {
    f = engine.inject(spec);
  } catch (err) {
    engine.close();
    await store?.close();
    throw err;
  }
  console.log(o.json ? JSON.stringify(f) : `injected ${summary(f)}; Ctrl-C stops it`);
  const stop = () => engine.stop('all');
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, stop);
  await engine.waitUntilGone(f.id);
  for (const s of signals) process.off(s, stop);
  const end = events.find((e) => e.type !== 'injected');
  if (!o.json) console.error(`faultlens inject: ${f.id} ${end?.type ?? 'stopped'}`);
  engine.close();
  await store?.flush().catch(() => undefined);
  await store?.close();
}

export function register(program: Command): void {
  const inject = program.command('inject').description('inject scoped, expiring faults with eBPF (loss, blackhole, refused connects, HTTP request faults, TCP knobs)');

  withScope(inject.command('loss').description('drop a share of the matching packets (tc)'), true)
    .requiredOption('--percent <p>', 'drop probability in percent (0 < p <= 100)', num('--percent'))
    .option('--no-segments', 'keep GSO super-packets (by default gso_max_segs is set to 1 on the interfaces so loss is per segment)')
    .action((o: ScopeOpts & { percent: number; segments: boolean }) => hold({ kind: 'loss', percent: o.percent, segments: o.segments, ...common(o) }, o));

  withScope(inject.command('blackhole').description('drop every matching packet: a partition (tc)'), true)
    .action((o: ScopeOpts) => hold({ kind: 'blackhole', ...common(o) }, o));

  withScope(inject.command('bandwidth').description('limit the matching traffic to a rate, per direction (tc token-bucket policer)'), true)
    .requiredOption('--rate <rate>', 'rate: 10mbit, 500kbit, 2MB, or bytes/s', parseRate)
    .option('--burst <bytes>', 'bucket depth in bytes (default: 250 ms of rate, at least 64 KiB)', int('--burst'))
    .action((o: ScopeOpts & { rate: number; burst?: number }) =>
      hold({ kind: 'bandwidth', rate: o.rate, ...(o.burst ? { burstBytes: o.burst } : {}), ...common(o) }, o));

  withScope(inject.command('refuse').description('fail matching connect() calls (cgroup connect4/connect6)'), false)
    .addOption(new Option('--errno <errno>', 'ECONNREFUSED: redirected to loopback port 0, the peer stack answers RST; EPERM: rejected by the hook')
      .choices(['ECONNREFUSED', 'EPERM']).default('ECONNREFUSED'))
    .action((o: ScopeOpts & { errno: string }) => hold({ kind: 'refuse', errno: o.errno, ...common(o) }, o));

  withScope(inject.command('request').description('fail the connection carrying a matching HTTP request: dropped (client times out) or reset (tc)'), true)
    .requiredOption('--method <method>', 'HTTP method, e.g. GET')
    .requiredOption('--path <path>', 'request path, e.g. /api/cart (also matches /api/cart/..., /api/cart?...)')
    .option('--prefix', 'match every path starting with --path')
    .option('--reset', 'reset the connection (client: ECONNRESET) instead of dropping it (client: timeout)')
    .action((o: ScopeOpts & { method: string; path: string; prefix?: boolean; reset?: boolean }) =>
      hold({ kind: 'request', method: o.method.toUpperCase(), path: o.path, prefix: Boolean(o.prefix), action: o.reset ? 'reset' : 'timeout', ...common(o) }, o));

  withScope(inject.command('tcp').description('TCP knobs on new connections in scope (sock_ops; Nagle also via cgroup setsockopt)'), false)
    .option('--nagle', 'force Nagle on (TCP_NODELAY cleared, also when the app sets it later)')
    .option('--delack-max-ms <ms>', 'cap the delayed-ACK timer (<= 200 ms)', num('--delack-max-ms'))
    .option('--rto-min-ms <ms>', 'minimum RTO (<= 200 ms: the kernel only lowers it)', num('--rto-min-ms'))
    .option('--window-clamp <bytes>', 'clamp the advertised receive window', int('--window-clamp'))
    .option('--cwnd-clamp <segments>', 'clamp the congestion window', int('--cwnd-clamp'))
    .option('--rcvbuf <bytes>', 'SO_RCVBUF', int('--rcvbuf'))
    .option('--sndbuf <bytes>', 'SO_SNDBUF', int('--sndbuf'))
    .option('--pacing-rate <rate>', 'bandwidth limit per connection (SO_MAX_PACING_RATE): 10mbit, 2MB, bytes/s', parseRate)
    .option('--congestion <name>', 'congestion control algorithm (e.g. reno)')
    .action((o: ScopeOpts & { nagle?: boolean; delackMaxMs?: number; rtoMinMs?: number; windowClamp?: number; cwndClamp?: number;
      rcvbuf?: number; sndbuf?: number; pacingRate?: number; congestion?: string }) => {
      const knobs = { nagle: o.nagle, delackMaxMs: o.delackMaxMs, rtoMinMs: o.rtoMinMs, windowClamp: o.windowClamp, cwndClamp: o.cwndClamp,
        rcvbuf: o.rcvbuf, sndbuf: o.sndbuf, pacingRate: o.pacingRate, congestion: o.congestion };
      for (const k of Object.keys(knobs) as (keyof typeof knobs)[]) if (knobs[k] === undefined) delete knobs[k];
      return hold({ kind: 'tcp', ...knobs, ...common(o) }, o);
    });

  inject.command('ls').description('active faults of every faultlens process on this host')
    .option('--json', 'JSON array')
    .action((o: { json?: boolean }) => {
      const engine = new InjectEngine();
      const faults = engine.list();
      engine.close();
      if (o.json) return console.log(JSON.stringify(faults));
      if (!faults.length) return console.log('no active faults');
      const rows = faults.map((f) => [f.id, String(f.ownerPid), remaining(f), f.spec.kind, f.description + (f.spec.label ? ` "${f.spec.label}"` : '')]);
      const head = ['ID', 'PID', 'LEFT', 'KIND', 'WHAT'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) console.log(r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]!) : c)).join('  '));
    });

  inject.command('stop').description('stop one fault, or all of them (also removes stale tc filters left by killed holders)')
    .argument('[id]', 'fault id from `inject ls`')
    .option('--all', 'every active fault')
    .action(async (id: string | undefined, o: { all?: boolean }) => {
      if (!id && !o.all) throw new Error('give a fault id or --all');
      const engine = new InjectEngine();
      try {
        const asked = engine.stop(o.all ? 'all' : id!);
        // holders detach on SIGUSR2; wait until their registry entries are gone
        const deadline = Date.now() + 5000;
        let left = engine.list().filter((f) => asked.includes(f.id));
        while (left.length && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          left = engine.list().filter((f) => asked.includes(f.id));
        }
        const stale = o.all ? removeStaleTcFilters() : [];
        console.log(`stopped ${asked.length - left.length} fault(s)${asked.length ? `: ${asked.join(', ')}` : ''}` +
          (stale.length ? `; removed ${stale.length} stale tc filter(s)` : ''));
        if (left.length) throw new Error(`still active after 5 s: ${left.map((f) => `${f.id} (pid ${f.ownerPid})`).join(', ')}`);
      } finally {
        engine.close();
      }
    });
}
