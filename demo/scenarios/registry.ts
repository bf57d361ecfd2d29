// The scenario registry: every fault the demo can stage, each reversible and with its ground truth.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../paths.js';
import { serviceIp } from '../topology.js';
import { startService, stopService } from '../services.js';
import { loadStartContext } from '../lifecycle.js';
import { adminPost, startHelper, startClient, stopHelpers, nstat, ssInfo } from './admin.js';
import { injectFault, injectionUnavailable, type InjectedFault } from './inject-engine.js';
import type { FaultKind, FaultTarget, Scenario, ScenarioContext } from './types.js';

const SLOW_MS = 300;
const LOSS_PERCENT = 20;
const PAYMENT_PORT = 8084;
const FRONTEND_PORT = 8080;
// The in-kernel TTL outlasts the fault window by this much (evidence is read just before the revert stops it);
// if the runner dies, the kernel still ends the fault on its own shortly after the window.
const TTL_GRACE_S = 5;
let overflowsBefore = 0;
const ioFile = (): string => join(cacheDir(), 'io-neighbour.dat');

export const SCENARIOS: Scenario[] = [
  {
    name: 'slow-endpoint',
    description: `catalog GET /products/:id gets ${SLOW_MS} ms slower (feature flag); other routes stay fast`,
    kind: 'slow-endpoint',
    target: { service: 'catalog', host: 'fl-cat', endpoint: 'GET /products/:id' },
    expectedRoutes: ['product'],
    inject: async () => void (await adminPost('catalog', '/admin/flags', { slowMs: SLOW_MS, slowRoute: 'GET /products/:id' })),
    revert: async () => void (await adminPost('catalog', '/admin/flags', { slowMs: 0 })),
  },
  {
    name: 'cpu-saturation',
    description: 'three busy-loop processes in catalog\'s namespace and cgroup saturate the 2 CPUs',
    kind: 'cpu-saturation',
    target: { service: 'catalog', host: 'fl-cat' },
    expectedRoutes: ['browse', 'product', 'home'],
    inject: async () => {
      for (let i = 0; i < 3; i++) startHelper(`scenario:hog:${i}`, 'fl-cat', 'sh', ['-c', 'while :; do :; done'], 'catalog');
    },
    revert: () => stopHelpers('scenario:hog:'),
  },
  {
    name: 'redis-down',
    description: 'the redis server behind cart is stopped (cart, cart views and orders fail) and restarted after',
    kind: 'service-down',
    target: { service: 'redis', host: 'fl-db', edge: { from: 'cart', to: 'redis' } },
    expectedRoutes: ['cart-add', 'cart-view', 'order'],
    inject: () => stopService('redis'),
    revert: async () => void (await startService('redis', loadStartContext())),
  },
  {
    name: 'payment-errors',
    description: 'payment charge() fails half of the time (processor error); orders return 502',
    kind: 'error-rate',
    target: { service: 'payment', host: 'fl-pay', endpoint: 'POST /charge', edge: { from: 'orders', to: 'payment' } },
    expectedRoutes: ['order'],
    inject: async () => void (await adminPost('payment', '/admin/flags?fail_rate=0.5')),
    revert: async () => void (await adminPost('payment', '/admin/flags?fail_rate=0')),
  },
  {
    name: 'listen-queue-overflow',
    description: 'payment accepts slowly (200 ms per accept, backlog 16, Connection: close) while a batch job floods it with connections',
    kind: 'listen-queue-overflow',
    target: { service: 'payment', host: 'fl-pay', edge: { from: 'orders', to: 'payment' } },
    expectedRoutes: ['order'],
    inject: async () => {
      overflowsBefore = await nstat('fl-pay', 'TcpExtListenOverflows');
      await adminPost('payment', '/admin/flags?accept_delay_ms=200&close=1');
      startClient('scenario:burst', 'fl-ord', ['burst', serviceIp('payment'), '8084', '40']);
    },
    evidence: async () => ({
      listenOverflowsDuringFault: (await nstat('fl-pay', 'TcpExtListenOverflows')) - overflowsBefore,
      listenOverflowsTotal: await nstat('fl-pay', 'TcpExtListenOverflows'),
    }),
    revert: async () => {
      await stopHelpers('scenario:burst');
      // The admin request queues behind the backlog (200 ms per accept): allow it the time to drain.
      await adminPost('payment', '/admin/flags?accept_delay_ms=0&close=0', undefined, 15_000);
    },
  },
  {
    name: 'nagle-delayed-ack',
    description: 'cart writes GET /cart/:user responses in small pieces with Nagle on: each waits for the delayed ACK (~40 ms)',
    kind: 'nagle-delayed-ack',
    target: { service: 'cart', host: 'fl-web', endpoint: 'GET /cart/:user', edge: { from: 'frontend', to: 'cart' } },
    expectedRoutes: ['cart-view', 'order'], // orders reads the cart too
    inject: async () => void (await adminPost('cart', '/admin/flags', { nagle: true })),
    evidence: async () => ({ ss: await ssInfo('fl-web', 'sport = :8082') }),
    revert: async () => void (await adminPost('cart', '/admin/flags', { nagle: false })),
  },
  {
    name: 'ineffective-rcvbuf',
    description: 'payment\'s settlement listener gets SO_RCVBUF 4 KB before listen (window scale 0 at the handshake); the 4 MB set after accept cannot help uploads',
    kind: 'ineffective-rcvbuf',
    target: { service: 'payment', host: 'fl-pay', endpoint: 'POST /settlements', edge: { from: 'orders', to: 'payment' } },
    expectedRoutes: [],
    inject: async () => {
      await adminPost('payment', '/admin/flags?rcvbuf_bug=1');
      await new Promise((r) => setTimeout(r, 400)); // the listener re-creates itself within 200 ms
      startClient('scenario:upload', 'fl-ord', ['upload', serviceIp('payment'), '8085', String(4 << 20)]);
    },
    evidence: async () => ({ ss: await ssInfo('fl-pay', 'sport = :8085') }),
    revert: async () => {
      await stopHelpers('scenario:upload');
      await adminPost('payment', '/admin/flags?rcvbuf_bug=0');
    },
  },
  {
    name: 'io-neighbour',
    description: 'an IO-heavy neighbour (direct-IO writes) runs in postgres\' namespace and cgroup',
    kind: 'io-contention',
    target: { service: 'postgres', host: 'fl-db' },
    expectedRoutes: ['order'],
    inject: async () => {
      // On the disk-backed cache dir (the runtime dir may be a tmpfs, where O_DIRECT fails); sleep on failure, never spin.
      startHelper('scenario:io', 'fl-db', 'sh', ['-c', `while :; do dd if=/dev/zero of='${ioFile()}' bs=1M count=256 oflag=direct conv=fsync status=none || sleep 1; done`], 'postgres');
    },
    revert: async () => {
      await stopHelpers('scenario:io');
      rmSync(ioFile(), { force: true });
    },
  },
  ebpfScenario({
    name: 'packet-loss',
    description: `${LOSS_PERCENT} % packet loss on the orders -> payment edge (eBPF tc on fl-pay's interface, only packets to/from orders on :8084)`,
    kind: 'packet-loss',
    target: { service: 'payment', host: 'fl-pay', endpoint: 'POST /charge', edge: { from: 'orders', to: 'payment' } },
    expectedRoutes: ['order'],
    spec: { kind: 'loss', percent: LOSS_PERCENT, scope: { netns: 'fl-pay', remoteIp: serviceIp('orders'), localPort: PAYMENT_PORT, proto: 'tcp', direction: 'both' } },
    counters: [['fl-ord', 'TcpRetransSegs'], ['fl-pay', 'TcpRetransSegs']],
  }),
  ebpfScenario({
    name: 'blackhole',
    description: 'host fl-cat (catalog) drops every packet, both directions (eBPF tc): pages, product views and orders time out',
    kind: 'blackhole',
    target: { service: 'catalog', host: 'fl-cat' },
    expectedRoutes: ['home', 'browse', 'product', 'order'],
    spec: { kind: 'blackhole', scope: { netns: 'fl-cat', direction: 'both' } },
  }),
  ebpfScenario({
    name: 'request-fault',
    description: 'GET /api/cart/... requests arriving at the frontend are dropped (eBPF tc, HTTP request match): cart views time out, all other routes stay healthy',
    kind: 'request-timeout',
    target: { service: 'frontend', host: 'fl-web', endpoint: 'GET /api/cart/:user', edge: { from: 'gateway', to: 'frontend' } },
    expectedRoutes: ['cart-view'],
    spec: { kind: 'request', method: 'GET', path: '/api/cart', action: 'timeout', scope: { netns: 'fl-web', localPort: FRONTEND_PORT, proto: 'tcp', direction: 'ingress' } },
  }),
];

/**
 * A scenario whose fault is one eBPF injection (src/inject spec without TTL): injected with TTL = fault window
 * + grace, its in-kernel counters (and optional netns counters, as deltas) kept as evidence, stopped on revert.
 */
function ebpfScenario(o: {
  name: string; description: string; kind: FaultKind; target: FaultTarget; expectedRoutes: string[];
  spec: Record<string, unknown>; counters?: [ns: string, counter: string][];
}): Scenario {
  let fault: InjectedFault | undefined;
  let before: number[] = [];
  const readCounters = (): Promise<number[]> => Promise.all((o.counters ?? []).map(([ns, c]) => nstat(ns, c)));
  return {
    name: o.name, description: o.description, kind: o.kind, target: o.target, expectedRoutes: o.expectedRoutes,
    unavailable: injectionUnavailable,
    inject: async (ctx: ScenarioContext) => {
      before = await readCounters();
      fault = await injectFault({ ...o.spec, ttlSec: ctx.faultS + TTL_GRACE_S, label: `demo scenario ${o.name}` });
      ctx.log(`${o.name}: injected ${fault.id}: ${fault.description}`);
    },
    evidence: async () => {
      const after = await readCounters();
      const st = fault?.stats();
      return {
        fault: fault && { id: fault.id, description: fault.description, activeAtMs: fault.activeAtMs, packetsSeen: st?.seen, packetsActedOn: st?.acted, ended: fault.ended() },
        ...Object.fromEntries((o.counters ?? []).map(([ns, c], i) => [`${ns}.${c}`, after[i]! - before[i]!])),
      };
    },
    revert: async () => {
      await fault?.stop();
      fault = undefined;
    },
  };
}

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario '${name}' (known: ${SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
