// `faultlens services`: live RED per service and endpoint, and the service map's edges, from socket capture.
import type { Command } from 'commander';
import { requireRoot } from '../../collect/sock-collector.js';
import { loadServiceMappings, startApmCapture } from '../../correlate/apm-live.js';
import type { RedAggregator } from '../../correlate/red.js';
import { buildTopology, formatEdges, table } from '../../correlate/topology.js';

interface ServicesOptions {
  json?: boolean;
  duration?: number;
  interval: number;
  payload: number;
  tcp: boolean;
  tls: boolean;
  serviceMap?: string;
  endpoints: boolean;
}

function positive(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got '${v}'`);
    return n;
  };
}

const f2 = (n: number) => n.toFixed(2);
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

export function formatServices(red: RedAggregator, windowSec: number, withEndpoints: boolean): string {
  const svc = red.serviceStats(windowSec);
  const parts = [table(['SERVICE', 'VIEW', 'REQS', 'RATE/s', 'ERR', 'P50ms', 'P90ms', 'P99ms', 'ENDPOINTS'],
    svc.map((s) => [s.service, s.side, String(s.count), s.ratePerSec.toFixed(1), pct(s.errorRate), f2(s.p50Ms), f2(s.p90Ms), f2(s.p99Ms), String(s.endpoints)]))];
  if (withEndpoints) {
    const ep = red.endpointStats(windowSec);
    parts.push(table(['SERVICE', 'PROTO', 'ENDPOINT', 'REQS', 'RATE/s', 'ERR', 'P50ms', 'P90ms', 'P99ms', 'STATUSES'],
      ep.map((e) => [e.service, e.protocol, `${e.method} ${e.endpoint}`.slice(0, 60), String(e.count), e.ratePerSec.toFixed(1), pct(e.errorRate), f2(e.p50Ms), f2(e.p90Ms), f2(e.p99Ms),
        Object.entries(e.statuses).map(([k, v]) => `${k}:${v}`).join(' ')]))
      .split('\n').map((l, i) => (i === 0 ? l : l)).join('\n'));
  }
  parts.push(formatEdges(buildTopology(red, windowSec).edges));
  return parts.join('\n\n');
}

async function runServices(o: ServicesOptions): Promise<void> {
  requireRoot('faultlens services');
  const log = (m: string) => console.error(`faultlens services: ${m}`);
  const started = Date.now();
  const cap = startApmCapture({
    payloadBytes: o.payload, tcp: o.tcp, tls: o.tls,
    ...(o.serviceMap ? { mappings: loadServiceMappings(o.serviceMap) } : {}),
    onWarning: log, onRecords: () => {},
  });
  log('capturing; Ctrl-C to stop');
  const out = process.stdout;
  const render = (final: boolean) => {
    const win = Math.max(1, (Date.now() - started) / 1000);
    const red = cap.pipeline.red;
    if (o.json) {
      if (!final && o.duration) return; // with a duration, one document at the end
      const topo = buildTopology(red, win);
      out.write(`${JSON.stringify({ windowSec: win, services: red.serviceStats(win), endpoints: red.endpointStats(win), nodes: topo.nodes, edges: topo.edges })}\n`);
      return;
    }
    const body = formatServices(red, win, o.endpoints);
    const head = `faultlens services — ${red.total} requests in ${win.toFixed(0)} s${final ? '' : `, every ${o.interval}s, Ctrl-C to quit`}`;
    out.write(out.isTTY && !final ? `\x1b[H\x1b[2J${head}\n\n${body}\n` : `${head}\n\n${body}\n`);
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => render(false), o.interval * 1000);
    const stop = () => {
      clearInterval(timer);
      clearTimeout(end);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      cap.stop();
      render(true);
      resolve();
    };
    const end = o.duration ? setTimeout(stop, o.duration * 1000) : undefined;
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function register(program: Command): void {
  program
    .command('services')
    .description('live RED (rate, errors, p50/p90/p99) per service, endpoint and service-to-service edge (needs root)')
    .option('--json', 'JSON documents (services, endpoints, nodes, edges) instead of tables')
    .option('--duration <seconds>', 'capture this long, print once and exit (default: refresh until Ctrl-C)', positive('--duration'))
    .option('--interval <seconds>', 'refresh interval', positive('--interval'), 2)
    .option('--no-endpoints', 'hide the per-endpoint table')
    .option('--payload <bytes>', 'payload bytes captured per socket call', positive('--payload'), 1024)
    .option('--no-tcp', 'do not attach the TCP collector')
    .option('--no-tls', 'do not attach the OpenSSL uprobes')
    .option('--service-map <file>', 'YAML list of {name, comm?, exe?, cmdline?, cgroup?, port?} naming services')
    .action(async (o: ServicesOptions) => {
      await runServices(o);
    });
}
