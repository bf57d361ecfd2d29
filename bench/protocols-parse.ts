// Benchmark: L7 parser throughput (request/response pairs per second of CPU) on captured real traffic
// (test/fixtures/protocols), replayed over many connections, with full payloads and with short heads.
//   node --import tsx bench/protocols-parse.ts [--seconds 2] [--head 256]
import { ConnectionParser } from '../src/protocols/connection.js';
import type { Chunk } from '../src/protocols/types.js';
import { loadFixture, toChunks } from '../test/protocols/capture.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const dir = new URL('../test/fixtures/protocols/', import.meta.url).pathname;

/** Replays one connection's chunks on fresh parsers for `seconds` of CPU; returns records/s. */
export function benchParse(chunks: Chunk[], seconds: number): { recordsPerSec: number; mbPerSec: number } {
  let records = 0;
  let bytes = 0;
  const per = chunks.reduce((a, c) => a + c.bytes.length, 0);
  for (let i = 0; i < 2000 && i * per < 2e8; i++) {
    const p = new ConnectionParser();
    for (const c of chunks) p.push(c);
    p.close();
  } // warm-up (JIT)
  const cpu0 = process.cpuUsage();
  let cpu = 0;
  while (cpu < seconds * 1e6) {
    for (let k = 0; k < 50; k++) {
      const p = new ConnectionParser();
      for (const c of chunks) records += p.push(c).length;
      records += p.close().length;
      bytes += per;
    }
    const u = process.cpuUsage(cpu0);
    cpu = u.user + u.system;
  }
  return { recordsPerSec: records / (cpu / 1e6), mbPerSec: bytes / (cpu / 1e6) / 1e6 };
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
  console.log('parser throughput, one core (records = request/response pairs)');
  for (const [name, chunks] of rows) {
    const r = benchParse(chunks, seconds);
    console.log(`${name.padEnd(40)} ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(12)} records/s  ${r.mbPerSec.toFixed(0).padStart(6)} MB/s`);
  }
}
