// `faultlens business`: runs the business probes of a config file (uprobes on binaries/libraries, no
// change to the target) and shows live business metrics; --json streams every event and metric.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { BusinessCollector } from '../../collect/business-collector.js';
import type { BusinessEvent } from '../../collect/business-decoder.js';
import { BusinessMetrics, type MetricSeries } from '../../collect/business-metrics.js';
import { parseBusinessProbes, type BusinessProbeSpec } from '../../collect/business-spec.js';

interface BusinessOptions {
  config: string;
  json?: boolean;
  events?: boolean;
  interval: number;
  duration?: number;
}

function positive(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got '${v}'`);
    return n;
  };
}

/** The probe list of a YAML file: `business: { probes: [...] }` (the main config) or a bare `probes: [...]`. */
export function readProbeFile(path: string): unknown[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read business probes from ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  const d = doc as { business?: { probes?: unknown }; probes?: unknown } | null;
  const probes = d?.business?.probes ?? d?.probes;
  if (!Array.isArray(probes)) throw new Error(`${path} has no probe list (expected business.probes or probes: a list)`);
  return probes;
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
const fmt = (n: number | undefined) => (n === undefined ? '-' : Math.abs(n) >= 1e6 ? n.toExponential(3) : Number.isInteger(n) ? String(n) : n.toFixed(2));

export function formatMetrics(series: MetricSeries[], calls: Map<string, { calls: number; recorded: number }>, probes: BusinessProbeSpec[]): string {
  const lines = [`${'PROBE'.padEnd(14)} ${'CALLS'.padStart(10)} ${'RECORDED'.padStart(10)} SAMPLE`];
  for (const p of probes) {
    const c = calls.get(p.name);
    lines.push(`${p.name.slice(0, 14).padEnd(14)} ${String(c?.calls ?? 0).padStart(10)} ${String(c?.recorded ?? 0).padStart(10)} 1/${p.sample}`);
  }
  if (series.length) {
    lines.push('', `${'METRIC'.padEnd(22)} ${'LABELS'.padEnd(30)} ${'COUNT'.padStart(8)} ${'SUM'.padStart(12)} ${'p50'.padStart(10)} ${'p99'.padStart(10)}`);
    for (const s of series) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';
      lines.push(`${`${s.probe}.${s.metric}`.slice(0, 22).padEnd(22)} ${labels.slice(0, 30).padEnd(30)} ${String(s.count).padStart(8)} ` +
        `${(s.kind === 'count' ? '-' : fmt(s.sum)).padStart(12)} ${fmt(s.p50).padStart(10)} ${fmt(s.p99).padStart(10)}`);
    }
  }
  return lines.join('\n');
}

async function runBusiness(opts: BusinessOptions): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('faultlens business needs root (uprobes need CAP_BPF/CAP_PERFMON): run it with sudo');
  }
  const { probes, errors } = parseBusinessProbes(readProbeFile(opts.config));
  const out = process.stdout;
  for (const e of errors) {
    console.error(`faultlens business: ${e.message}`);
    if (opts.json) out.write(`${json({ type: 'business-probe', name: e.probe, ok: false, error: e.message })}\n`);
  }
  const metrics = new BusinessMetrics(probes);
  const streamed = new Set(probes.filter((p) => p.events).map((p) => p.name));
  const onEvents = (events: BusinessEvent[]) => {
    metrics.add(events);
    for (const e of events) {
      if (!streamed.has(e.probe)) continue;
      if (opts.json) out.write(`${json({ type: 'business-event', ...e })}\n`);
      else if (opts.events) out.write(`${e.probe} ${e.comm}[${e.pid}/${e.tid}] ${json(e.values)}${e.durNs !== undefined ? ` ${Number(e.durNs) / 1000}us` : ''}\n`);
    }
  };
  const collector = new BusinessCollector({ onEvents }).start();
  const running: BusinessProbeSpec[] = [];
  for (const p of probes) {
    const s = collector.addProbe(p);
    if (opts.json) out.write(`${json({ type: 'business-probe', ...s })}\n`);
    if (s.ok) running.push(p);
    else console.error(`faultlens business: ${s.error}`);
  }
  if (running.length === 0) {
    collector.close();
    throw new Error(`no business probe is running (${errors.length + probes.length} declared in ${opts.config})`);
  }
  console.error(`faultlens business: ${running.length} probe(s) running: ${running.map((p) => p.name).join(', ')}`);
  const started = Date.now();
  const tick = () => {
    collector.poll();
    const series = metrics.snapshot();
    const calls = collector.callCounts(); // exact, from the kernel (sampled-out and dropped calls included)
    if (opts.json) {
      for (const [probe, c] of calls) out.write(`${json({ type: 'business-calls', probe, ...c })}\n`);
      for (const s of series) out.write(`${json({ type: 'business-metric', ...s })}\n`);
    } else if (!opts.events) {
      const st = collector.stats();
      const head = `faultlens business — ${running.length} probes, ${st.events} events, ${st.drops} dropped — every ${opts.interval}s, Ctrl-C to quit`;
      const body = formatMetrics(series, calls, running);
      out.write(out.isTTY ? `\x1b[H\x1b[2J${head}\n\n${body}\n` : `${head}\n${body}\n\n`);
    }
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      tick();
      if (opts.duration !== undefined && Date.now() - started >= opts.duration * 1000) stop();
    }, opts.interval * 1000);
    const stop = () => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      collector.close();
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

const EXAMPLE = `
Example config (the demo's payment service; offsets of struct order from demo/payment/payment.c):

  business:
    probes:
      - name: charge
        target: /path/to/payment        # binary or library path, bare library name (libc.so.6), or omit and give pid
        symbol: charge                  # int charge(const char *user, long amount_cents, const char *currency)
        args:
          - { name: user, index: 0, type: string, maxLen: 32 }
          - { name: amount_cents, index: 1, type: long }
          - { name: currency, index: 2, type: string, maxLen: 8 }
        return: { name: status, type: int }          # uretprobe: value + duration
        metrics:
          - { name: calls, kind: count, labels: [status] }
          - { name: revenue, kind: sum, value: amount_cents, labels: [currency] }
          - { name: latency, kind: histogram, value: duration }
      - name: order
        target: /path/to/payment
        symbol: record_order            # int record_order(const struct order *o)
        args:
          - { name: user, index: 0, deref: [0], type: string }       # o->user
          - { name: items, index: 0, deref: [16], type: int }        # o->items
          - { name: currency, index: 0, deref: [24], type: string }  # o->currency

Types: i8..i64, u8..u64, int, long, bool, pointer, string (char *), chars (char array, size), bytes (size),
f32/f64 (only through deref or a stack slot: uprobes cannot read xmm registers). index 0-5 are registers,
6-11 stack slots; 'stack: N' reads the 8 bytes at sp+N on entry; deref: [a, b] follows the pointer at +a,
then reads at +b.
`;

export function register(program: Command): void {
  program
    .command('business')
    .description('business probes (uprobes on functions of binaries/libraries, from a config file): live business metrics and events (needs root)')
    .requiredOption('--config <file>', 'YAML file with business.probes (or probes) — see docs in src/collect/business-spec.ts')
    .option('--json', 'emit JSON lines: business-probe (status), business-event (each call), business-calls and business-metric (every interval)')
    .option('--events', 'print each call instead of the metrics table')
    .option('--interval <seconds>', 'refresh interval', positive('--interval'), 1)
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positive('--duration'))
    .addHelpText('after', EXAMPLE)
    .action(async (opts: BusinessOptions) => {
      await runBusiness(opts);
    });
}
