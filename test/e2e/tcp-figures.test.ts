// The per-connection figures faultlens reads must agree with the kernel's own tcp_info (ss -ti) for the same
// live sockets: srtt and rtt-var within 10 %, cwnd, MSS, bytes acked and retransmits exactly,
// delivery rate within 25 % (one rate sample behind at most).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPeer, ssTcpInfo, startPeerServer, tcpE2eSkipReason, tcpPeerBinary, useTcpHosts } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const h = useTcpHosts(skip);

const within = (a: number, b: number, pct: number) => Math.abs(a - b) <= Math.max(Math.abs(b) * pct / 100, 0.002);

test('srtt, rtt-var, cwnd and MSS match ss -ti for live connections', { skip }, async (t) => {
  const server = await startPeerServer(h.pair.b, ['rr-server', h.pair.b.ip4, '0', '2000', '30000']);
  // the client reports once its exchanges are done, then holds the connection idle while we compare
  const child = h.pair.a.spawn(tcpPeerBinary(), ['rr-client', h.pair.b.ip4, String(server.port), '30', '1000', '1000', '30000'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODELAY: '1', HOLD_MS: '1500' } });
  const report = await new Promise<Record<string, number>>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"pid"'));
      if (line) resolve(JSON.parse(line) as Record<string, number>);
    });
    child.on('exit', (code) => reject(new Error(`client exited ${code} before reporting`)));
  });
  await new Promise((r) => setTimeout(r, 200)); // let the last ACKs land: the connection is idle from here
  const ss = await ssTcpInfo(h.pair.a);
  const ours = h.collector.readConns().find((c) => c.netns === h.pair.a.inode && c.local.port === report.lport);
  const kernel = ss.get(report.lport!);
  await new Promise((r) => child.on('close', r));
  await server.done;
  t.diagnostic(`faultlens srtt ${ours?.srttUs} µs rttvar ${ours?.mdevUs} µs cwnd ${ours?.cwnd} mss ${ours?.mss} minrtt ${ours?.rttMinUs} µs; ss ${JSON.stringify(kernel)}`);
  assert.ok(ours, 'connection tracked');
  assert.ok(kernel, `ss shows the connection (ports: ${[...ss.keys()].join(',')})`);
  assert.ok(ours.rttSamples > 10, `rtt samples ${ours.rttSamples}`);
  assert.ok(within(ours.srttUs / 1000, kernel.srttMs!, 10), `srtt ${ours.srttUs} µs vs ss ${kernel.srttMs} ms`);
  assert.ok(within(ours.mdevUs / 1000, kernel.rttvarMs!, 10), `rttvar ${ours.mdevUs} µs vs ss ${kernel.rttvarMs} ms`);
  assert.equal(ours.cwnd, kernel.cwnd);
  assert.equal(ours.mss, kernel.mss);
  assert.equal(ours.totalRetrans, kernel.totalRetrans);
  assert.ok(within(ours.rttMinUs / 1000, kernel.minrtt!, 10), `min rtt ${ours.rttMinUs} µs vs ss ${kernel.minrtt} ms`);
  assert.equal(ours.bytesAcked, kernel.bytesAcked);
  // The rate sample we hold is the one before the last ACK (sock_ops' RTT callback runs before the kernel
  // generates the new rate sample), so on an idle flow it can trail ss by one sample.
  assert.ok(within(ours.deliveryRateBps * 8, kernel.deliveryRateBitsPerSec!, 25),
    `delivery rate ${ours.deliveryRateBps * 8} bit/s vs ss ${kernel.deliveryRateBitsPerSec}`);
  assert.equal(ours.role, 'client');
  assert.equal(ours.pid, report.pid);
  assert.ok(ours.connectLatencyNs > 0n, 'connect latency measured');
});
