// TCP knob faults (sock_ops + cgroup setsockopt) on new connections of a namespace: each knob is visible in
// `ss -ti` and changes the connection; Nagle forced back on reproduces the Nagle x delayed-ACK stall even
// for an app that sets TCP_NODELAY, and the delayed-ACK cap shortens that stall.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InjectEngine } from '../../src/inject/index.js';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { runPeer, startPeerServer } from './tcp-peer.js';
import { injectSkipReason, peer, sleep, tempRegistry } from '../inject/helpers.js';

const skip = injectSkipReason();
let pair: NetnsPair;
let engine: InjectEngine;

before(() => {
  if (skip) return;
  pair = createNetnsPair();
  engine = new InjectEngine({ registry: tempRegistry() });
});

after(() => {
  engine?.close();
  pair?.destroy();
});

/** The `ss -tinm` block of the established connection to `port` in ns. */
async function ssConn(ns: NetnsPair['a'], port: number): Promise<string> {
  const out = (await ns.run('ss', ['-tinmH', 'state', 'established', `dport = :${port}`])).stdout;
  return out.replace(/\s+/g, ' ');
}
const num = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

test('pacing, cwnd clamp, min RTO, window clamp and rcvbuf show in ss -ti and slow the transfer', { skip }, async (t) => {
  const bytes = 2_000_000;
  const plain = await startPeerServer(pair.b, ['sink-server', pair.b.ip4, '0']);
  const t0 = Date.now();
  await runPeer(pair.a, ['bulk-client', pair.b.ip4, String(plain.port), String(bytes)]);
  await plain.done;
  const plainMs = Date.now() - t0;

  const f = engine.inject({ kind: 'tcp', ttlSec: 30, pacingRate: 1_000_000, cwndClamp: 8, rtoMinMs: 50, windowClamp: 20_000, rcvbuf: 65_536,
    scope: { netns: pair.a.name } });
  const server = await startPeerServer(pair.b, ['sink-server', pair.b.ip4, '0']);
  const t1 = Date.now();
  const client = runPeer(pair.a, ['bulk-client', pair.b.ip4, String(server.port), String(bytes)]);
  await sleep(600);
  const ss = await ssConn(pair.a, server.port);
  await client;
  await server.done;
  const faultMs = Date.now() - t1;
  const st = engine.stats(f.id)!;
  engine.stop(f.id);
  t.diagnostic(`plain ${plainMs} ms, with knobs ${faultMs} ms; stats ${JSON.stringify(st)}; ss: ${ss}`);
  assert.deepEqual(st.failedKnobs, []);
  assert.equal(st.acted, 1);
  assert.match(ss, /max_pacing_rate 8Mbps|pacing_rate \S+\/8Mbps|pacing_rate \S+bps\/8000000bps/, 'max pacing rate 1 MB/s = 8 Mbit/s');
  assert.ok(num(ss, /\bcwnd:(\d+)/) <= 8, `cwnd ${num(ss, /\bcwnd:(\d+)/)}`);
  assert.ok(num(ss, /\brto:(\d+)/) < 200, `rto ${num(ss, /\brto:(\d+)/)} ms: the 200 ms floor was lowered`);
  assert.ok(num(ss, /\brcv_ssthresh:(\d+)/) <= 20_000, 'window clamp caps the receive window');
  assert.equal(num(ss, /\brb(\d+)/), 131_072, 'SO_RCVBUF 64 KiB (the kernel doubles it)');
  assert.ok(faultMs >= (bytes / 1_000_000) * 1000 * 0.8, `paced transfer took ${faultMs} ms`);
  assert.ok(faultMs > plainMs * 3, `${faultMs} ms vs ${plainMs} ms unpaced`);
});

test('Nagle forced on reproduces the Nagle x delayed-ACK stall for an app using TCP_NODELAY', { skip }, async (t) => {
  const exchange = async (late: boolean) => {
    const server = await startPeerServer(pair.b, ['rr-server', pair.b.ip4, '0', '200', '100']);
    const r = late
      ? await peer<{ perExchangeMs: number }>(pair.a, ['rr', pair.b.ip4, String(server.port), '20', '100', '100', '100'])
      : await runPeer(pair.a, ['rr-client', pair.b.ip4, String(server.port), '20', '100', '100', '100'], { NODELAY: '1' });
    await server.done;
    return r.perExchangeMs as number;
  };
  const healthy = await exchange(false);
  const f = engine.inject({ kind: 'tcp', nagle: true, ttlSec: 30, scope: { netns: pair.a.name } });
  const early = await exchange(false); // TCP_NODELAY before connect: cleared by sock_ops when established
  const late = await exchange(true);   // TCP_NODELAY after connect: rewritten to 0 by the setsockopt hook
  const st = engine.stats(f.id)!;
  engine.stop(f.id);
  const healed = await exchange(true);
  t.diagnostic(`per exchange: healthy ${healthy.toFixed(1)} ms, nodelay-before-connect ${early.toFixed(1)} ms, ` +
    `nodelay-after-connect ${late.toFixed(1)} ms, after stop ${healed.toFixed(1)} ms; stats ${JSON.stringify(st)}`);
  assert.ok(healthy < 10, `healthy exchange took ${healthy} ms`);
  assert.ok(early > 30 && early < 60, `nodelay-before-connect ${early} ms, expected a ~40 ms delayed-ACK stall`);
  assert.ok(late > 30 && late < 60, `nodelay-after-connect ${late} ms, expected a ~40 ms delayed-ACK stall`);
  assert.ok(st.setsockoptRewrites >= 1, 'the setsockopt hook rewrote the app\'s TCP_NODELAY');
  assert.ok(healed < 10, `after stop ${healed} ms`);
});

test('the delayed-ACK cap on the receiver shortens the stall (TCP_BPF_DELACK_MAX)', { skip }, async (t) => {
  const stall = async () => {
    const server = await startPeerServer(pair.b, ['rr-server', pair.b.ip4, '0', '200', '100']);
    const r = await runPeer(pair.a, ['rr-client', pair.b.ip4, String(server.port), '20', '100', '100', '100']);
    await server.done;
    return r.perExchangeMs as number;
  };
  const before = await stall(); // Nagle on (the default), receiver's delayed ACK ~40 ms
  const f = engine.inject({ kind: 'tcp', delackMaxMs: 5, ttlSec: 30, scope: { netns: pair.b.name } });
  const capped = await stall();
  engine.stop(f.id);
  t.diagnostic(`Nagle x delayed ACK: ${before.toFixed(1)} ms per exchange; with delack max 5 ms on the receiver: ${capped.toFixed(1)} ms`);
  assert.ok(before > 30, `baseline stall ${before} ms`);
  assert.ok(capped < before / 2 && capped >= 4, `capped stall ${capped} ms`);
});
