// Benchmark: L7 parser throughput (request/response pairs per second of CPU) on captured real traffic
// (test/fixtures/protocols), replayed over many connections, with full payloads and with short heads.
//   node --import tsx bench/protocols-parse.ts [--seconds 2] [--head 256] [--only http1]
import { ConnectionParser } from '../src/protocols/connection.js';
import type { Chunk } from '../src/protocols/types.js';
import { loadFixture, toChunks } from '../test/protocols/capture.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const dir = new URL('../test/fixtures/protocols/', import.meta.url).pathname;

/** Parses the chunks on fresh parsers (one connection each) until `cpuUs` of CPU passed; records/s, bytes/s. */
function round(chunks: Chunk[], per: number, cpuUs: number): { records: number; bytes: number; cpu: number } {
  let records = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  let cpu = 0;
  while (cpu < cpuUs) {
    for (let k = 0; k < 20; k++) {
      const p = new ConnectionParser();
      for (const c of chunks) records += p.push(c).length;
      records += p.close().length;
      bytes += per;
    }
    const u = process.cpuUsage(cpu0);
    cpu = u.user + u.system;
  }
  return { records, bytes, cpu };
}

/** Runs the parsers on these chunks for `cpuUs` (JIT tiers settle; compile threads count as process CPU). */
export function warmUp(chunks: Chunk[], cpuUs: number): void {
  round(chunks, chunks.reduce((a, c) => a + c.bytes.length, 0), cpuUs);
}

/**
 * Replays one connection's chunks on fresh parsers for `seconds` of CPU, in rounds of 0.2 s after a
 * 0.5 s warm-up (JIT tiers settle); returns the median and best round (records/s): on a shared machine
 * the best round is the closest to the parser's own speed, the median says how steady it was.
 */
export function benchParse(chunks: Chunk[], seconds: number): { recordsPerSec: number; bestPerSec: number; mbPerSec: number } {
  const per = chunks.reduce((a, c) => a + c.bytes.length, 0);
  warmUp(chunks, 500_000);
  const rates: { r: number; mb: number }[] = [];
  for (let i = 0; i < Math.max(3, Math.round(seconds / 0.2)); i++) {
    const x = round(chunks, per, 200_000);
    rates.push({ r: x.records / (x.cpu / 1e6), mb: x.bytes / (x.cpu / 1e6) / 1e6 });
  }
  rates.sort((a, b) => a.r - b.r);
  const mid = rates[rates.length >> 1]!;
  return { recordsPerSec: mid.r, bestPerSec: rates[rates.length - 1]!.r, mbPerSec: mid.mb };
}

/** Keep-alive HTTP/1.1 exchanges as the kernel would hand them over: GET + small 200 response. */
function smallHttp(n: number, head: number): Chunk[] {
  const enc = new TextEncoder();
  const out: Chunk[] = [];
  const req = enc.encode('GET /api/users/123?verbose=1 HTTP/1.1\r\nHost: svc:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n');
  const resp = enc.encode('HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: keep-alive\r\n\r\n{"id":123,"name":"example"}');
  for (let i = 0; i < n; i++) {
    out.push({ dir: 'send', role: 'client', tsNs: BigInt(i * 2), bytes: req.subarray(0, head), totalLen: req.length });
    out.push({ dir: 'recv', role: 'client', tsNs: BigInt(i * 2 + 1), bytes: resp.subarray(0, head), totalLen: resp.length });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = arg('seconds', 2);
  const head = arg('head', 256);
  const rows: [string, Chunk[]][] = [
    ['http1 small keep-alive (full)', smallHttp(100, 1 << 20)],
    [`http1 small keep-alive (head ${head})`, smallHttp(100, head)],
    ['http1 nginx capture (full)', toChunks(loadFixture(dir + 'http1-nginx-keepalive.json'))],
    [`http1 nginx capture (head ${head})`, toChunks(loadFixture(dir + 'http1-nginx-keepalive.json'), head)],
    ['http2 nginx h2c capture (full)', toChunks(loadFixture(dir + 'http2-nginx-h2c.json'))],
    ['redis --pipe capture (full)', toChunks(loadFixture(dir + 'redis-cli-pipe.json'))],
    [`redis session (head ${head})`, toChunks(loadFixture(dir + 'redis-cli-session.json'), head)],
    ['postgres extended (full)', toChunks(loadFixture(dir + 'postgres-extended.json'))],
    ['mysql cli (full)', toChunks(loadFixture(dir + 'mysql-mariadb-cli.json'))],
    ['dns udp (full)', toChunks(loadFixture(dir + 'dns-udp-dnsmasq.json'))],
  ];
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] ?? '' : '';
  // every row's code paths first: the parsers then run as in the agent, where all protocols are live
  for (const [name, chunks] of rows) if (!only || name.startsWith(only)) warmUp(chunks, 300_000);
  console.log('parser throughput, one core, CPU time (records = request/response pairs; median of 0.2 s rounds, and the best round)');
  for (const [name, chunks] of rows) {
    if (only && !name.startsWith(only)) continue;
    const r = benchParse(chunks, seconds);
    const n = (x: number) => Math.round(x).toLocaleString('en-US').padStart(10);
    console.log(`${name.padEnd(40)} ${n(r.recordsPerSec)} records/s (best round ${n(r.bestPerSec)})  ${r.mbPerSec.toFixed(0).padStart(6)} MB/s`);
  }
}
