// `faultlens requests --json` and `faultlens services --json` live, against a real HTTP server on loopback
// driven by curl: exact requests with routes and statuses, and RED figures that count them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO, runCli, useStatusServer } from '../helpers/cli-http.js';
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF)';
  try {
    execFileSync('sh', ['-c', 'command -v curl']);
    execFileSync('make', ['-s', '-C', join(REPO, 'bpf'), '.output/sock.bpf.o'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    return `curl or the socket probe is missing: ${(e as Error).message}`;
  }
  return undefined;
}
const skip = unavailable();

const srv = useStatusServer(skip, 500);
const run = (args: string[], ready: () => void) => runCli(args, /capturing/, ready);

test('requests --json and services --json report what curl did', { skip }, async () => {
  let live = 0;
  const issue = () => {
    if (++live < 2) return; // both commands capturing
    const base = `http://127.0.0.1:${srv.port}`;
    // async: this process is the HTTP server curl talks to
    execFile('curl', ['-s', '-o', '/dev/null', `${base}/items/1`, '-o', '/dev/null', `${base}/items/22`, '-o', '/dev/null', `${base}/fail`, '-o', '/dev/null', `${base}/nope`], () => {});
  };
  const [req, svc] = await Promise.all([
    run(['requests', '--json', '--duration', '6', '--service', 'curl', '--side', 'client', '--no-tcp', '--no-tls'], issue),
    run(['services', '--json', '--duration', '6', '--no-tcp', '--no-tls'], issue),
  ]);
  assert.equal(req.code, 0, req.err);
  assert.equal(svc.code, 0, svc.err);
  const recs = req.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.server.port === srv.port);
  assert.deepEqual(recs.map((r) => [r.side, r.clientService, r.method, r.path, r.endpoint, r.httpStatus, r.error]), [
    ['client', 'curl', 'GET', '/items/1', '/items/{id}', 200, false],
    ['client', 'curl', 'GET', '/items/22', '/items/{id}', 200, false],
    ['client', 'curl', 'GET', '/fail', '/fail', 500, true],
    ['client', 'curl', 'GET', '/nope', '/nope', 404, true],
  ]);
  assert.equal(new Set(recs.map((r) => r.flowId)).size, 1, 'one keep-alive connection');
  assert.ok(recs.every((r) => typeof r.traceId === 'string' && r.traceId.length === 32));
  const doc = JSON.parse(svc.out.trim().split('\n').pop()!);
  // this test process is the server: its service name comes from its command line / cgroup
  const ep = doc.endpoints.filter((e: { endpoint: string; count: number; service: string }) => ['/items/{id}', '/fail', '/nope'].includes(e.endpoint) && e.service === recs[0].serverService);
  const byEp = Object.fromEntries(ep.map((e: { endpoint: string; count: number; errors: number }) => [e.endpoint, [e.count, e.errors]]));
  assert.deepEqual(byEp, { '/items/{id}': [2, 0], '/fail': [1, 1], '/nope': [1, 1] });
  assert.ok(doc.edges.some((e: { client: string; server: string; count: number }) => e.client === 'curl' && e.server === recs[0].serverService && e.count === 4));
});
