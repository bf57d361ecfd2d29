// `faultlens trace ID`: one call chain as a tree. ID is a trace id or the id of any request in it (its span
// id). Records come from a file written by `faultlens requests --json`, or from a faultlens server's
// stored requests (GET /api/records/requests).
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { requestFromJson, requestToJson, rowToRequest } from '../../correlate/apm.js';
import { buildTraceTree, formatTraceTree, tracePaths } from '../../correlate/traces.js';
import type { RequestRecord } from '../../model/request.js';

interface TraceOptions {
  last: number;
  from?: string;
  server: string;
  token?: string;
  since: string;
  json?: boolean;
}

function fromFile(path: string): RequestRecord[] {
  const out: RequestRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      out.push(requestFromJson(line));
    } catch {
      // a torn last line of a live capture: skip it
    }
  }
  return out;
}

async function fromServer(url: string, since: string, token: string | undefined): Promise<RequestRecord[]> {
  const u = new URL('/api/records/requests', url);
  u.searchParams.set('from', since);
  u.searchParams.set('limit', '10000');
  let res: Response;
  try {
    res = await fetch(u, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (e) {
    throw new Error(`faultlens server ${url} is unreachable (${(e as Error).message}); start it with \`faultlens server\` or use --from FILE`);
  }
  if (!res.ok) throw new Error(`faultlens server ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  const body = (await res.json()) as { rows: Record<string, unknown>[] };
  return body.rows.map(rowToRequest);
}

/** The records of the trace `id` names (trace id, or span id of one of its records). */
export function selectTrace(records: RequestRecord[], id: string): RequestRecord[] {
  const want = id.toLowerCase();
  let traceId = records.some((r) => r.traceId === want) ? want : records.find((r) => r.spanId === want || r.id === want)?.traceId;
  if (!traceId) traceId = records.find((r) => r.requestIdHeader === id)?.traceId; // an X-Request-Id from a log line
  return traceId ? records.filter((r) => r.traceId === traceId) : [];
}

/** Trace ids of the `n` traces whose root started last, newest first. */
export function recentTraceIds(records: RequestRecord[], n: number): string[] {
  const start = new Map<string, bigint>();
  for (const r of records) {
    if (!r.traceId) continue;
    const s = start.get(r.traceId);
    if (s === undefined || r.startNs < s) start.set(r.traceId, r.startNs);
  }
  return [...start].sort((a, b) => (a[1] > b[1] ? -1 : a[1] < b[1] ? 1 : 0)).slice(0, n).map(([t]) => t);
}

function renderTrace(recs: RequestRecord[]): string {
  const roots = buildTraceTree(recs);
  const services = new Set(recs.flatMap((r) => [r.clientService, r.serverService]));
  return `trace ${recs[0]!.traceId}: ${recs.length} records, ${services.size} services\n${formatTraceTree(roots)}\n\npaths:\n${[...new Set(tracePaths(roots))].map((p) => `  ${p}`).join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('trace')
    .alias('traces') // `faultlens traces`: the recent traces as trees (no id)
    .argument('[id]', 'trace id, request (span) id, or X-Request-Id (default: the most recent traces)')
    .description('show a call chain as a tree: every service hop with method, route, status and latency')
    .option('--last <n>', 'without an id: this many of the most recent traces', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--last must be a positive integer, got '${v}'`);
      return n;
    }, 5)
    .option('--from <file>', 'read requests from a `faultlens requests --json` file instead of a server')
    .option('--server <url>', 'faultlens server to read stored requests from', process.env.FAULTLENS_SERVER_URL ?? 'http://127.0.0.1:7070')
    .option('--token <token>', 'bearer token for --server', process.env.FAULTLENS_SERVER_TOKEN)
    .option('--since <time>', 'how far back to look on the server (e.g. now-1h)', 'now-1h')
    .option('--json', 'the trace\'s records as JSON lines')
    .action(async (id: string | undefined, o: TraceOptions) => {
      const all = o.from ? fromFile(o.from) : await fromServer(o.server, o.since, o.token);
      if (id === undefined) {
        const ids = recentTraceIds(all, o.last);
        if (ids.length === 0) console.error(`faultlens trace: no traces among ${all.length} requests`);
        for (const t of ids) process.stdout.write(o.json ? all.filter((r) => r.traceId === t).map((r) => `${requestToJson(r)}\n`).join('') : `${renderTrace(all.filter((r) => r.traceId === t))}\n`);
        return;
      }
      const recs = selectTrace(all, id);
      if (recs.length === 0) {
        console.error(`faultlens trace: no trace ${id} among ${all.length} requests${o.from ? ` in ${o.from}` : ` on ${o.server} since ${o.since}`}`);
        process.exitCode = 1;
        return;
      }
      if (o.json) {
        for (const r of recs) process.stdout.write(`${requestToJson(r)}\n`);
        return;
      }
      process.stdout.write(renderTrace(recs));
    });
}
