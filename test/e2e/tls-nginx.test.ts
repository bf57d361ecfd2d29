// HTTPS through nginx (self-signed certificate made here) is seen via the OpenSSL uprobes with the same
// routes and statuses as plain HTTP, on the same kind of keep-alive connection, with latencies that agree
// with curl's own timings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApmCapture, type ApmCapture } from '../../src/correlate/apm-live.js';
import type { RequestRecord } from '../../src/model/request.js';
import { freePort } from '../helpers/ports.js';

const REPO = join(import.meta.dirname, '..', '..');
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF)';
  for (const b of ['/usr/sbin/nginx', '/usr/bin/curl', '/usr/bin/openssl']) if (!existsSync(b)) return `${b} missing (apt-get install nginx-light curl openssl)`;
  try {
    execFileSync('make', ['-s', '-C', join(REPO, 'bpf'), '.output/tls.bpf.o', '.output/sock.bpf.o'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    return `bpf objects do not build: ${(e as Error).message}`;
  }
  const ldd = spawnSync('ldd', ['/usr/bin/curl'], { encoding: 'utf8' }).stdout;
  if (!/libssl\.so\.3/.test(ldd)) return 'curl is not linked against the system libssl.so.3';
  return undefined;
}
const skip = unavailable();

let dir = '';
let httpPort = 0;
let httpsPort = 0;
let cap: ApmCapture | undefined;
const records: RequestRecord[] = [];

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'fl-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  httpPort = await freePort();
  httpsPort = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), `
user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server {
    listen 127.0.0.1:${httpPort};
    listen 127.0.0.1:${httpsPort} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location = /health { return 200 "ok\\n"; }
    location /users/ { return 200 "user\\n"; }
    location = /orders { client_max_body_size 1m; return 201 "created\\n"; }
    location = /slow { return 503 "busy\\n"; }
  }
}
`);
  execFileSync('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  cap = startApmCapture({ tcp: false, onRecords: (rs) => records.push(...rs), onWarning: () => {} });
});

after(() => {
  cap?.stop();
  if (dir) {
    try {
      const pid = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8'));
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch { /* not started */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

const PATHS = [['GET', '/health', 200], ['GET', '/users/123', 200], ['POST', '/orders', 201], ['GET', '/users/77', 200], ['GET', '/slow', 503], ['GET', '/missing', 404]] as const;

/** One curl process, one keep-alive connection, every path in turn; returns curl's timings per request. */
function curlAll(base: string): { code: number; totalMs: number; preMs: number }[] {
  const args = ['-sk', '--http1.1'];
  PATHS.forEach(([m, p], i) => {
    if (i > 0) args.push('--next', '-sk', '--http1.1');
    args.push('-o', '/dev/null', '-w', '%{http_code} %{time_total} %{time_pretransfer}\\n');
    if (m === 'POST') args.push('-X', 'POST', '-d', 'item=1');
    args.push(`${base}${p}`);
  });
  const out = execFileSync('curl', args, { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => {
    const [c, t, p] = l.split(' ');
    return { code: Number(c), totalMs: Number(t) * 1000, preMs: Number(p) * 1000 };
  });
}

async function settle(port: number, want: number): Promise<RequestRecord[]> {
  const until = Date.now() + 8000;
  for (;;) {
    cap!.tick();
    const got = records.filter((r) => r.server.port === port);
    if (got.length >= want || Date.now() > until) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('HTTPS requests are parsed from OpenSSL plaintext like the same requests over HTTP', { skip }, async () => {
  await new Promise((r) => setTimeout(r, 300)); // probes attached; nginx up
  const plain = curlAll(`http://127.0.0.1:${httpPort}`);
  const tls = curlAll(`https://127.0.0.1:${httpsPort}`);
  assert.deepEqual(plain.map((c) => c.code), PATHS.map((p) => p[2]));
  assert.deepEqual(tls.map((c) => c.code), PATHS.map((p) => p[2]));

  const n = PATHS.length * 2; // each request seen by curl's socket and by nginx's
  const httpRecs = await settle(httpPort, n);
  const tlsRecs = await settle(httpsPort, n);
  const view = (rs: RequestRecord[], side: string) =>
    rs.filter((r) => r.side === side).sort((a, b) => (a.startNs < b.startNs ? -1 : 1)).map((r) => [r.method, r.path, r.httpStatus]);
  for (const side of ['client', 'server']) {
    assert.deepEqual(view(tlsRecs, side), PATHS.map((p) => [...p]), `https, ${side} view`);
    assert.deepEqual(view(httpRecs, side), PATHS.map((p) => [...p]), `http, ${side} view`);
  }
  assert.equal(tlsRecs.length, n, 'nothing else on the TLS port: the ciphertext itself yields no records');
  assert.ok(tlsRecs.every((r) => r.tls === true && r.protocol === 'http1'));
  assert.ok(httpRecs.every((r) => !r.tls));
  // one connection per curl run: every TLS record of one side on the same flow, joined to curl / nginx
  assert.equal(new Set(tlsRecs.map((r) => r.flowId)).size, 1);
  assert.ok(tlsRecs.every((r) => r.clientService === 'curl'));
  assert.equal(tlsRecs.find((r) => r.path === '/slow')!.error, true);
  // the caller's latency agrees with curl's (time_total - time_pretransfer) within 1 ms or 10 %
  const clientTls = tlsRecs.filter((r) => r.side === 'client').sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
  clientTls.forEach((r, i) => {
    const ours = Number(r.durationNs) / 1e6;
    const theirs = tls[i]!.totalMs - tls[i]!.preMs;
    const tol = Math.max(1, theirs * 0.1);
    console.log(`# ${r.method} ${r.path}: faultlens ${ours.toFixed(3)} ms, curl ${theirs.toFixed(3)} ms`);
    assert.ok(Math.abs(ours - theirs) <= tol, `${r.path}: ${ours} ms vs curl ${theirs} ms`);
  });
  const st = cap!.tls!.stats();
  assert.ok(st.records >= BigInt(PATHS.length * 4), `tls records ${st.records}`);
  assert.equal(cap!.tlsJoin.stats.noFd, 0);
});
