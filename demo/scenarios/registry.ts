// The scenario registry: every fault the demo can stage, each reversible and with its ground truth.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../paths.js';
import { serviceIp } from '../topology.js';
import { startService, stopService } from '../services.js';
import { loadStartContext } from '../lifecycle.js';
import { adminPost, startHelper, startClient, stopHelpers, nstat, ssInfo } from './admin.js';
import { injectFault, injectionUnavailable, type InjectedFault } from './inject-engine.js';
import type { Scenario } from './types.js';

const SLOW_MS = 300;
let activeFault: InjectedFault | undefined;
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
  {
    name: 'packet-loss',
    description: '10 % packet loss on the orders -> payment edge (eBPF tc, needs issue 7)',
    kind: 'packet-loss',
    target: { service: 'payment', host: 'fl-pay', edge: { from: 'orders', to: 'payment' } },
    expectedRoutes: ['order'],
    unavailable: injectionUnavailable,
    inject: async () => {
      activeFault = await injectFault({ kind: 'packet-loss', probability: 0.1, scope: { netns: 'fl-ord', remoteIp: serviceIp('payment'), direction: 'egress' }, ttlS: 300 });
    },
    revert: async () => {
      await activeFault?.stop();
      activeFault = undefined;
    },
  },
  {
    name: 'blackhole',
    description: 'host fl-pay drops every packet (eBPF tc, needs issue 7)',
    kind: 'blackhole',
    target: { service: 'payment', host: 'fl-pay' },
    expectedRoutes: ['order'],
    unavailable: injectionUnavailable,
    inject: async () => {
      activeFault = await injectFault({ kind: 'blackhole', scope: { netns: 'fl-pay', direction: 'both' }, ttlS: 300 });
    },
    revert: async () => {
      await activeFault?.stop();
      activeFault = undefined;
    },
  },
];

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario '${name}' (known: ${SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
