// Test peer for the injection e2e tests, run inside a namespace with `ip netns exec NS node http-peer.mjs ...`.
//   server ADDR PORT                         HTTP server: /api/cart and /api/catalog answer 200 JSON; prints {"ready":PORT}
//   client BASE_URL N TIMEOUT_MS PATH...     N requests per path, each on a fresh connection; prints per-path
//                                            {"ok":n,"fail":n,"errors":{"CODE":n},"maxMs":n}
//   connect ADDR PORT TIMEOUT_MS             one TCP connect; prints {"ok":true,"ms":n} or {"error":"CODE","ms":n}
//   probe ADDR PORT INTERVAL_MS DURATION_MS TIMEOUT_MS
//                                            prints {"waiting":PID}; after a line on stdin, connects every INTERVAL_MS
//                                            for DURATION_MS; prints [{"t":ms since the line,"ok":bool,"error":"CODE"}]
//   rr ADDR PORT N HDR BODY RESP             like tcp-peer rr-client, but sets TCP_NODELAY only after the connection is
//                                            established (as many apps do); prints {"perExchangeMs":n,"lport":n}
//       env WAIT_STDIN=1                     print {"waiting":PID} and connect only after a line on stdin
import http from 'node:http';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'server') {
  const [addr, port] = args;
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ path: req.url, items: req.url.startsWith('/api/cart') ? ['socks'] : ['socks', 'shoes'] });
    res.writeHead(req.url.startsWith('/api/') ? 200 : 404, { 'content-type': 'application/json' });
    res.end(body);
  });
  server.listen(Number(port), addr, () => console.log(JSON.stringify({ ready: server.address().port })));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'client') {
  const [base, n, timeoutMs, ...paths] = args;
  const one = (path) => new Promise((resolve) => {
    const t0 = Date.now();
    const req = http.get(`${base}${path}`, { agent: false, timeout: Number(timeoutMs) }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, code: res.statusCode === 200 ? undefined : `HTTP${res.statusCode}`, ms: Date.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => resolve({ ok: false, code: e.code ?? e.message, ms: Date.now() - t0 }));
  });
  const report = {};
  // interleave the paths so that both see the same moments in time
  for (let i = 0; i < Number(n); i++) {
    const results = await Promise.all(paths.map(one));
    results.forEach((r, j) => {
      const p = (report[paths[j]] ??= { ok: 0, fail: 0, errors: {}, maxMs: 0 });
      if (r.ok) p.ok++;
      else { p.fail++; p.errors[r.code] = (p.errors[r.code] ?? 0) + 1; }
      p.maxMs = Math.max(p.maxMs, r.ms);
    });
  }
  console.log(JSON.stringify(report));
} else if (mode === 'connect') {
  const [addr, port, timeoutMs] = args;
  if (process.env.WAIT_STDIN) {
    console.log(JSON.stringify({ waiting: process.pid }));
    await new Promise((resolve) => process.stdin.once('data', resolve));
  }
  const t0 = Date.now();
  const s = net.connect({ host: addr, port: Number(port) });
  const done = (r) => { console.log(JSON.stringify({ ...r, ms: Date.now() - t0 })); s.destroy(); process.exit(0); };
  s.setTimeout(Number(timeoutMs), () => done({ error: 'TIMEOUT' }));
  s.on('connect', () => done({ ok: true }));
  s.on('error', (e) => done({ error: e.code }));
} else if (mode === 'probe') {
  const [addr, port, interval, duration, timeoutMs] = args.map((a, i) => (i === 0 ? a : Number(a)));
  console.log(JSON.stringify({ waiting: process.pid }));
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const t0 = performance.now();
  const results = [];
  const attempt = () => new Promise((resolve) => {
    const t = Math.round(performance.now() - t0);
    const s = net.connect({ host: addr, port });
    const done = (r) => { s.destroy(); resolve({ t, ...r }); };
    s.setTimeout(timeoutMs, () => done({ ok: false, error: 'TIMEOUT' }));
    s.on('connect', () => done({ ok: true }));
    s.on('error', (e) => done({ ok: false, error: e.code }));
  });
  while (performance.now() - t0 < duration) {
    const next = performance.now() + interval;
    attempt().then((r) => results.push(r));
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  await new Promise((r) => setTimeout(r, timeoutMs + 50));
  console.log(JSON.stringify(results.sort((a, b) => a.t - b.t)));
  process.exit(0);
} else if (mode === 'rr') {
  const [addr, port, n, hdr, body, resp] = args.map((a, i) => (i === 0 ? a : Number(a)));
  const s = net.connect({ host: addr, port });
  await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  s.setNoDelay(true);
  let pending = 0;
  let wake = () => {};
  s.on('data', (d) => { pending += d.length; wake(); });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    s.write(Buffer.alloc(hdr, 120));
    s.write(Buffer.alloc(body, 120));
    while (pending < resp) await new Promise((r) => (wake = r));
    pending -= resp;
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ perExchangeMs: ms / n, lport: s.localPort }));
  s.end();
  process.exit(0);
} else {
  console.error('usage: see the comment at the top of http-peer.mjs');
  process.exit(2);
}
