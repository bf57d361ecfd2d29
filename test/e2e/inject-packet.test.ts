// Packet faults over a veth pair (MTU 1500): loss of p% shows up as ~p% retransmitted segments, a blackhole
// makes connects and requests time out (only within its scope), and a fault stops acting at its TTL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monotonicNs } from '../../src/inject/index.js';
import { netnsCounters, runPeer, startPeerServer } from './tcp-peer.js';
import { injectSkipReason, peer, recoveredAt, sleep, startProbe, useInjectHosts, type ClientReport, type ConnectResult } from '../inject/helpers.js';

const skip = injectSkipReason();
const h = useInjectHosts(skip);

/** Uploads `bytes` from a to b; returns the sender's segment and retransmission counts. */
async function upload(bytes: number): Promise<{ out: number; retrans: number; dsack: number; probes: number }> {
  const before = await netnsCounters(h.pair.a);
  const server = await startPeerServer(h.pair.b, ['sink-server', h.pair.b.ip4, '0']);
  await runPeer(h.pair.a, ['bulk-client', h.pair.b.ip4, String(server.port), String(bytes)]);
  await server.done;
  const afterC = await netnsCounters(h.pair.a);
  const d = (k: string) => afterC.get(k)! - before.get(k)!;
  // DSACKs tell the sender which retransmissions were unnecessary (spurious RTOs when the box is busy)
  return { out: d('Tcp.OutSegs') + d('Tcp.RetransSegs'), retrans: d('Tcp.RetransSegs'), dsack: d('TcpExt.TCPDSACKRecvSegs'), probes: d('TcpExt.TCPLossProbes') };
}

test('loss of 10% drops ~10% of segments and TCP retransmits about that many', { skip }, async (t) => {
  const p = 0.10;
  const base = await upload(1 << 20);
  const f = h.engine.inject({ kind: 'loss', percent: p * 100, ttlSec: 30, scope: { netns: h.pair.a.name, direction: 'egress', proto: 'tcp' } });
  const lossy = await upload(2 << 20);
  const st = h.engine.stats(f.id)!;
  h.engine.stop(f.id);
  const dropRatio = st.acted / st.seen;
  const retransRatio = lossy.retrans / lossy.out;
  const neededRatio = (lossy.retrans - lossy.dsack) / lossy.out; // without those the receiver flagged as duplicates
  t.diagnostic(`baseline ${base.retrans}/${base.out}; lossy: dropped ${st.acted}/${st.seen} packets (${(dropRatio * 100).toFixed(1)}%), ` +
    `retransmitted ${lossy.retrans}/${lossy.out} segments (${(retransRatio * 100).toFixed(1)}%), ${lossy.dsack} of them reported spurious by DSACK, ${lossy.probes} tail loss probes`);
  assert.ok(base.retrans <= base.out * 0.01, `baseline already retransmits: ${base.retrans}/${base.out}`);
  // one packet per segment (gso_max_segs 1), so the kernel saw about as many packets as TCP sent segments
  assert.ok(st.seen >= lossy.out * 0.9 && st.seen <= lossy.out * 1.1, `program saw ${st.seen} packets for ${lossy.out} segments`);
  // binomial: n >= 1400, sigma <= 0.8 %; 4 sigma
  const sigma = Math.sqrt((p * (1 - p)) / st.seen);
  assert.ok(Math.abs(dropRatio - p) < 4 * sigma + 0.005, `drop ratio ${dropRatio} vs ${p} (sigma ${sigma})`);
  // every lost segment is retransmitted at least once; recovery adds some spurious/tail-probe retransmits
  assert.ok(lossy.retrans >= st.acted * 0.9, `${lossy.retrans} retransmits for ${st.acted} drops`);
  // (on a loaded machine spurious RTOs add more; DSACK identifies most of them)
  assert.ok(neededRatio >= p * 0.7 && neededRatio <= p * 2.5, `retransmit ratio ${retransRatio} (${neededRatio} without DSACKed ones) not near ${p}`);
});

test('a blackhole on the server port times out connects and requests; other ports stay reachable', { skip }, async (t) => {
  const other = await startPeerServer(h.pair.b, ['listen-only', h.pair.b.ip4, '0', '8']);
  try {
    const f = h.engine.inject({ kind: 'blackhole', ttlSec: 30, scope: { netns: h.pair.b.name, localPort: h.http.port } });
    const c = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip4, String(h.http.port), '800']);
    const c6 = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip6, String(h.http.port), '800']);
    const o = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip4, String(other.port), '800']);
    const r = await peer<ClientReport>(h.pair.a, ['client', `http://${h.pair.b.ip4}:${h.http.port}`, '2', '800', '/api/catalog']);
    const st = h.engine.stats(f.id)!;
    h.engine.stop(f.id);
    t.diagnostic(`v4 ${JSON.stringify(c)} v6 ${JSON.stringify(c6)} other port ${JSON.stringify(o)} http ${JSON.stringify(r)} stats ${JSON.stringify(st)}`);
    assert.equal(c.error, 'TIMEOUT');
    assert.equal(c6.error, 'TIMEOUT');
    assert.equal(o.ok, true);
    assert.deepEqual(r['/api/catalog']!.errors, { TIMEOUT: 2 });
    assert.ok(st.acted >= 4, `only ${st.acted} packets dropped`);
    const back = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip4, String(h.http.port), '800']);
    assert.equal(back.ok, true, 'reachable again after stop');
  } finally {
    other.kill();
  }
});

test('a fault stops acting at its TTL (measured)', { skip }, async (t) => {
  const ttlMs = 1500;
  const probe = await startProbe(h.pair.a, h.pair.b.ip4, h.http.port, 100, ttlMs + 1500, 80);
  const f = h.engine.inject({ kind: 'blackhole', ttlSec: ttlMs / 1000, scope: { netns: h.pair.b.name, localPort: h.http.port } });
  probe.go();
  // the deadline was fixed before load+attach: measure from the moment the probe started
  const deadlineMs = Number(BigInt(f.deadlineNs) - monotonicNs()) / 1e6;
  const r = await probe.results;
  const back = recoveredAt(r);
  const failed = r.filter((x) => !x.ok);
  t.diagnostic(`${failed.length} failed probes (last at ${failed.at(-1)?.t} ms), connects work again from ${back} ms; ` +
    `deadline at ${deadlineMs.toFixed(0)} ms (TTL ${ttlMs} ms from inject)`);
  assert.ok(failed.length >= 8, `only ${failed.length} probes failed during the fault`);
  assert.ok(failed.every((x) => x.error === 'TIMEOUT'), JSON.stringify(failed));
  assert.ok(failed.at(-1)!.t < deadlineMs + 30, `a probe failed at ${failed.at(-1)!.t} ms, after the deadline`);
  assert.ok(back !== undefined && back >= deadlineMs - 110 && back <= deadlineMs + 250, `recovered at ${back} ms`);
  await sleep(100);
  assert.equal(h.engine.size, 0, 'user space dropped the expired fault too');
});

test('bandwidth: a token-bucket policer holds a bulk transfer near the rate', { skip }, async (t) => {
  const rate = 2_000_000;
  const bytes = 4_000_000;
  const f = h.engine.inject({ kind: 'bandwidth', rate, ttlSec: 30, scope: { netns: h.pair.a.name, direction: 'egress' } });
  const server = await startPeerServer(h.pair.b, ['sink-server', h.pair.b.ip4, '0']);
  const t0 = Date.now();
  await runPeer(h.pair.a, ['bulk-client', h.pair.b.ip4, String(server.port), String(bytes)]);
  await server.done;
  const seconds = (Date.now() - t0) / 1000; // includes starting the client (a few 100 ms): errs on the slow side
  const st = h.engine.stats(f.id)!;
  h.engine.stop(f.id);
  const achieved = bytes / seconds;
  t.diagnostic(`${bytes} bytes in ${seconds.toFixed(2)} s = ${(achieved / 1e6).toFixed(2)} MB/s at a ${rate / 1e6} MB/s limit; ${st.acted} packets policed`);
  assert.ok(st.acted > 0, 'the policer dropped something');
  assert.ok(achieved <= rate * 1.2, `achieved ${achieved} B/s above the ${rate} B/s limit (+ its 250 ms burst)`);
  assert.ok(achieved >= rate * 0.6, `achieved only ${achieved} B/s of ${rate}`);
});
