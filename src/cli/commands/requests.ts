// `faultlens requests`: live L7 requests from socket capture (and OpenSSL plaintext), one line each (or JSON
// lines), with flow id, services at both ends, status, latency, TCP state and trace/span ids. Optionally
// sent to a faultlens server (POST /api/ingest) so that `faultlens trace` and the UI can find them.
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { requireRoot } from '../../collect/sock-collector.js';
import { monoToWallOffsetNs, requestToJson, requestToRow } from '../../correlate/apm.js';
import { loadServiceMappings, startApmCapture } from '../../correlate/apm-live.js';
import type { RequestRecord } from '../../model/request.js';

interface RequestsOptions {
  json?: boolean;
  duration?: number;
  pid?: number;
  service?: string;
  protocol?: string;
  side?: 'server' | 'client' | 'both';
  payload: number;
  tcp: boolean;
  tls: boolean;
  serviceMap?: string;
  server?: string;
  token?: string;
  host: string;
}

function positive(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} must be a positive number, got '${v}'`);
    return n;
  };
}

export function formatRequestLine(r: RequestRecord): string {
  const ms = (Number(r.durationNs) / 1e6).toFixed(2).padStart(9);
  const status = (r.httpStatus ? String(r.httpStatus) : r.status || (r.incomplete ? '-' : '')).padEnd(8);
  const what = `${r.method} ${r.endpoint}`.slice(0, 70).padEnd(40);
  const tcp = r.tcp ? ` rtt=${(r.tcp.srttUs / 1000).toFixed(2)}ms${r.tcp.retransmits ? ` retrans=${r.tcp.retransmits}` : ''}` : '';
  return `${r.side === 'server' ? 'S' : 'C'} ${`${r.clientService} -> ${r.serverService}`.padEnd(28)} ${r.protocol.padEnd(8)} ${what} ${status}${r.error ? '!' : ' '} ${ms} ms  ${r.traceId?.slice(0, 16) ?? ''}${r.tls ? ' tls' : ''}${tcp}`;
}

function matches(r: RequestRecord, o: RequestsOptions): boolean {
  if (o.pid !== undefined && r.pid !== o.pid) return false;
  if (o.service && r.clientService !== o.service && r.serverService !== o.service) return false;
  if (o.protocol && r.protocol !== o.protocol) return false;
  if (o.side && o.side !== 'both' && r.side !== o.side) return false;
  return true;
}

/** Batches records to a faultlens server; failures are reported, never fatal to the capture. */
function serverSink(url: string, host: string, token: string | undefined, log: (m: string) => void) {
  const offset = monoToWallOffsetNs();
  let queue: RequestRecord[] = [];
  let inflight: Promise<void> = Promise.resolve();
  const send = () => {
    if (queue.length === 0) return inflight;
    const rows = queue.map((r) => requestToRow(r, offset));
    queue = [];
    const body = JSON.stringify({ host, requests: rows }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    inflight = inflight.then(async () => {
      try {
        const res = await fetch(new URL('/api/ingest', url), {
          method: 'POST', body, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        });
        if (!res.ok) log(`server ${url} refused ${rows.length} requests: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      } catch (e) {
        log(`server ${url} unreachable: ${(e as Error).message}`);
      }
    });
    return inflight;
  };
  const timer = setInterval(send, 1000);
  return {
    add: (rs: RequestRecord[]) => { queue.push(...rs); },
    async close() {
      clearInterval(timer);
      await send();
    },
  };
}

async function runRequests(o: RequestsOptions): Promise<void> {
  requireRoot('faultlens requests');
  const log = (m: string) => console.error(`faultlens requests: ${m}`);
  const sink = o.server ? serverSink(o.server, o.host, o.token, log) : undefined;
  let count = 0;
  const out = process.stdout;
  const cap = startApmCapture({
    payloadBytes: o.payload,
    tcp: o.tcp,
    tls: o.tls,
    ...(o.serviceMap ? { mappings: loadServiceMappings(o.serviceMap) } : {}),
    onWarning: log,
    onRecords: (rs) => {
      sink?.add(rs);
      for (const r of rs) {
        if (!matches(r, o)) continue;
        count++;
        out.write(o.json ? `${requestToJson(r)}\n` : `${formatRequestLine(r)}\n`);
      }
    },
  });
  log(`capturing (socket payloads${cap.tcp ? ', TCP state' : ''}${cap.tls ? ', OpenSSL plaintext' : ''})${sink ? `, sending to ${o.server}` : ''}; Ctrl-C to stop`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      cap.stop();
      resolve();
    };
    const timer = o.duration ? setTimeout(stop, o.duration * 1000) : undefined;
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sink?.close();
  const st = cap.pipeline.tracker.stats();
  log(`${count} requests shown; ${st.records} parsed from ${st.events} socket events (${st.parser.parseErrors} parse errors)`);
}

export function register(program: Command): void {
  program
    .command('requests')
    .description('live L7 requests (HTTP/1, redis, postgres, mysql, DNS; HTTPS via OpenSSL uprobes) from socket capture (needs root)')
    .option('--json', 'one JSON object per request (flow id, services, timings, TCP snapshot, trace/span ids)')
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positive('--duration'))
    .option('--pid <pid>', 'only requests whose socket belongs to this process', positive('--pid'))
    .option('--service <name>', 'only requests with this service at either end')
    .option('--protocol <name>', 'only this protocol (http1, redis, postgres, mysql, dns)')
    .option('--side <side>', 'server (the callee\'s view), client (the caller\'s) or both', 'both')
    .option('--payload <bytes>', 'payload bytes captured per socket call (64..4096)', positive('--payload'), 1024)
    .option('--no-tcp', 'do not attach the TCP collector (no srtt/retransmits per request)')
    .option('--no-tls', 'do not attach the OpenSSL uprobes (HTTPS stays opaque)')
    .option('--service-map <file>', 'YAML list of {name, comm?, exe?, cmdline?, cgroup?, port?} naming services')
    .option('--server <url>', 'also send the requests to this faultlens server (POST /api/ingest)')
    .option('--token <token>', 'bearer token for --server', process.env.FAULTLENS_SERVER_TOKEN)
    .option('--host <name>', 'host name the records are stored under', process.env.FAULTLENS_HOSTNAME ?? hostname())
    .action(async (o: RequestsOptions) => {
      if (o.side && !['server', 'client', 'both'].includes(o.side)) throw new Error(`--side must be server, client or both, got '${o.side}'`);
      await runRequests(o);
    });
}
