// `faultlens top` with live RED, real CLI and kernel: curl drives a real HTTP server on loopback (this test
// process) while `top --json` and `top` (text) run; the per-interval RED lines must add up to exactly what
// curl did, per endpoint, next to the resource rows (top-proc) top always showed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO, runCli, useStatusServer } from '../helpers/cli-http.js';
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF)';
  try {
    execFileSync('sh', ['-c', 'command -v curl']);
    execFileSync('make', ['-s', '-C', join(REPO, 'bpf'), '.output/sock.bpf.o', '.output/sysio.bpf.o'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    return `curl or the probes are missing: ${(e as Error).message}`;
  }
  return undefined;
}
const skip = unavailable();

const srv = useStatusServer(skip, 503);
const run = (args: string[], ready: () => void) => runCli(args, /watching/, ready);

test('faultlens top shows live RED per service and endpoint next to the resource view', { skip }, async () => {
  let watching = 0;
  const issue = () => {
    if (++watching < 2) return; // both CLIs capturing
    const base = `http://127.0.0.1:${srv.port}`;
    const urls = [`${base}/items/1`, `${base}/items/22`, `${base}/items/333`, `${base}/fail`, `${base}/items/4`, `${base}/fail`, `${base}/nope`];
    // async: this process is the HTTP server curl talks to
    execFile('curl', ['-s', ...urls.flatMap((u) => ['-o', '/dev/null', u])], () => {});
  };
  const [json, text] = await Promise.all([
    run(['top', '--json', '--interval', '1', '--duration', '5', '--no-tls'], issue),
    run(['top', '--interval', '1', '--duration', '5', '--no-tls', '--rows', '5'], issue),
  ]);
  assert.equal(json.code, 0, json.err);
  assert.equal(text.code, 0, text.err);

  const lines = json.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l.type === 'top-proc'), 'the resource view is still there');
  type Ep = { type: string; service: string; method: string; endpoint: string; count: number; errors: number; p50Ms: number; statuses: Record<string, number> };
  // this test process is the server: the service whose endpoints curl hit
  const eps = lines.filter((l) => l.type === 'top-endpoint') as unknown as Ep[];
  const mine = eps.filter((e) => ['/items/{id}', '/fail', '/nope'].includes(e.endpoint));
  const services = new Set(mine.map((e) => e.service));
  assert.equal(services.size, 1, `endpoints of one service: ${[...services].join(', ')}`);
  const sum = new Map<string, [number, number, Record<string, number>]>();
  for (const e of mine) {
    const s = sum.get(e.endpoint) ?? [0, 0, {}];
    s[0] += e.count;
    s[1] += e.errors;
    for (const [k, v] of Object.entries(e.statuses)) s[2][k] = (s[2][k] ?? 0) + v;
    sum.set(e.endpoint, s);
    assert.ok(e.p50Ms > 0 && e.p50Ms < 1000, `${e.endpoint} p50 ${e.p50Ms} ms`);
  }
  // summed over the intervals: exactly what curl did, each request counted once
  assert.deepEqual(Object.fromEntries(sum), {
    '/items/{id}': [4, 0, { 200: 4 }],
    '/fail': [2, 2, { 503: 2 }],
    '/nope': [1, 1, { 404: 1 }],
  });
  const svc = lines.filter((l) => l.type === 'top-service' && l.service === [...services][0]) as unknown as { count: number; errors: number }[];
  assert.deepEqual([svc.reduce((a, s) => a + s.count, 0), svc.reduce((a, s) => a + s.errors, 0)], [7, 3]);

  // the text view: process table, then the services and endpoints of the interval with the requests
  assert.match(text.out, /PID +COMM +CPU%/);
  assert.match(text.out, /requests in this interval:\nSERVICE +VIEW +REQS/);
  assert.match(text.out, /GET \/items\/\{id\}/);
});
