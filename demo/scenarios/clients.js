// Traffic helpers scenarios start inside a demo namespace (plain JS, run with node):
//   node clients.js burst HOST PORT CONCURRENCY   a batch job hammering a service with new connections
//   node clients.js upload HOST PORT BYTES        a settlement uploader posting large bodies, keep-alive
import http from 'node:http';

const [mode, host, portStr, nStr] = process.argv.slice(2);
const port = Number(portStr);
const n = Number(nStr);
process.on('SIGTERM', () => process.exit(0));

if (mode === 'burst') {
  // Each worker opens a fresh connection per request (no agent), so every request is a new accept.
  const one = () =>
    new Promise((resolve) => {
      const req = http.request({ host, port, path: '/health', agent: false, timeout: 10000, headers: { connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', resolve);
      req.end();
    });
  for (let i = 0; i < n; i++) (async () => { for (;;) await one(); })();
} else if (mode === 'upload') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = Buffer.alloc(n, 0x61);
  const one = () =>
    new Promise((resolve) => {
      const req = http.request({ host, port, method: 'POST', path: '/settlements', agent, headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => setTimeout(resolve, 200));
      req.end(body);
    });
  (async () => { for (;;) { await one(); await new Promise((r) => setTimeout(r, 100)); } })();
} else {
  console.error('usage: clients.js burst|upload HOST PORT N');
  process.exit(2);
}
