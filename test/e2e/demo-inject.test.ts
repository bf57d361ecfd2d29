// The demo's network scenarios through the eBPF injection engine, judged by the load generator's own
// client-side records: loss on the orders -> payment edge slows orders and nothing else, a blackhole of the
// catalog host fails catalog routes and nothing else, a request fault hangs exactly GET /api/cart/...; the
// ground truth lands in the JSON-lines file and in the store's faults table; after the revert nothing
// injected remains (registry, tcx links, programs, gso setting); demo down at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { injectKernelState, newInjectState, stillThere, sleep } from '../inject/helpers.js';

const ownDir = !process.env.FAULTLENS_DEMO_DIR;
process.env.FAULTLENS_DEMO_DIR ??= mkdtempSync(join(tmpdir(), 'fl-demo-inject-'));
const workDir = mkdtempSync(join(tmpdir(), 'fl-demo-inject-store-'));
const storeUrl = `duckdb://${join(workDir, 'faults.duckdb')}`;

const { up, down } = await import('../../demo/lifecycle.js');
const { runScenario, groundTruthFile } = await import('../../demo/scenarios/runner.js');
const { injectionUnavailable } = await import('../../demo/scenarios/inject-engine.js');
const { HOSTS } = await import('../../demo/topology.js');
const { pgBinDir } = await import('../../demo/postgres.js');
const { loadRecordsFile } = await import('../../demo/load.js');
const { openStore } = await import('../../src/store/index.js');
const { FaultRegistry } = await import('../../src/inject/index.js');
type Phases = Awaited<ReturnType<typeof runScenario>>['phases'];
type GroundTruth = Awaited<ReturnType<typeof runScenario>>['groundTruth'];
interface LoadLine { t: number; route: string; status: number; ms: number; error?: string }

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

function missingPrereq(): string | undefined {
  const inject = injectionUnavailable();
  if (inject) return inject;
  for (const cmd of ['nginx', 'redis-server', 'openssl', 'gcc', 'ip', 'psql', 'bpftool']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`]);
    } catch {
      return `${cmd} is not installed (scripts/bootstrap.sh --test installs the demo servers)`;
    }
  }
  return pgBinDir() ? undefined : 'postgresql is not installed';
}
const skip = missingPrereq();

const failed = (r: LoadLine): boolean => r.status === 0 || r.status >= 500;
const slow = (r: LoadLine): boolean => failed(r) || r.ms >= 200; // >= one TCP RTO (200 ms minimum)

/** The load generator's records of one route sent within [from, to). */
function sent(route: string, from: number, to: number): LoadLine[] {
  return readFileSync(loadRecordsFile(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LoadLine)
    .filter((r) => r.route === route && r.t >= from && r.t < to);
}

interface Listed { id: string; spec: { label?: string }; attachments: string[] }
const faultsListed = (): Listed[] =>
  JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', CLI, 'inject', 'ls', '--json'], { encoding: 'utf8' })) as Listed[];

const gsoMaxSegs = (ns: string): number[] =>
  (JSON.parse(execFileSync('ip', ['-n', ns, '-d', '-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string; gso_max_segs?: number }[])
    .filter((l) => l.ifname !== 'lo').map((l) => l.gso_max_segs ?? -1);

function table(p: Phases): string {
  return Object.keys(p.fault).map((route) => {
    const c = (s?: { p50: number; p90: number; errors: number; count: number }) => (s ? `${s.p50.toFixed(0)}/${s.p90.toFixed(0)} ms ${s.errors}/${s.count}` : '-');
    return `${route}: ${c(p.baseline[route])} -> ${c(p.fault[route])} -> ${c(p.recovery[route])}`;
  }).join('; ');
}

let kernelBefore: ReturnType<typeof injectKernelState>;
const runs: GroundTruth[] = [];
// inject programs and links that appeared while a scenario's fault was on: all must be gone at the end
const ours = { progIds: [] as number[], linkIds: [] as number[] };

/** Snapshots what the kernel has attached at `ms` into a running scenario (its fault is on by then). */
async function attachedAt(ms: number): Promise<ReturnType<typeof newInjectState>> {
  await sleep(ms);
  const now = newInjectState(kernelBefore);
  ours.progIds.push(...now.progIds);
  ours.linkIds.push(...now.linkIds);
  return now;
}

before(async () => {
  if (skip) return;
  kernelBefore = injectKernelState();
  await up(() => {});
});

after(async () => {
  if (!skip) await down(() => {}); // idempotent: the last test already tore down on success
  if (ownDir) rmSync(process.env.FAULTLENS_DEMO_DIR!, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

test('packet-loss on orders -> payment: orders slow down (RTO retransmits), browsing stays healthy; ground truth in file and store', { skip }, async (t) => {
  const gsoBefore = gsoMaxSegs('fl-pay');
  // a seeded load: the same request mix every run (unseeded, one CI run drew 12 orders in the window where
  // ~30 are expected, too few packets on the edge to judge a 20 % drop ratio)
  const running = runScenario('packet-loss', { baselineS: 4, faultS: 12, recoveryS: 2, rps: 25, profile: 'steady', log: () => {}, storeUrl, seed: 42 });
  running.catch(() => {}); // awaited below; a failure must not count as unhandled meanwhile
  // While the fault is on: in the shared registry (what `faultlens inject ls` reads; read in-process here, a
  // CLI start would load the box during the fault window), attached as tcx in fl-pay only.
  const linksDuring = (await attachedAt(7000)).linkIds.length;
  const listed = new FaultRegistry().read() as unknown as Listed[];
  const gsoDuring = gsoMaxSegs('fl-pay');
  const { groundTruth: gt, phases } = await running;
  runs.push(gt);
  const d = gt.details as { fault: { id: string; activeAtMs: number; packetsSeen: number; packetsActedOn: number }; 'fl-ord.TcpRetransSegs': number; 'fl-pay.TcpRetransSegs': number };
  const orders = sent('order', d.fault.activeAtMs, gt.end);
  const browse = sent('browse', d.fault.activeAtMs, gt.end);
  const slowOrders = orders.filter(slow);
  const slowBrowse = browse.filter(slow);
  t.diagnostic(`${table(phases)}`);
  t.diagnostic(`dropped ${d.fault.packetsActedOn}/${d.fault.packetsSeen} packets on the edge, retransmits orders ${d['fl-ord.TcpRetransSegs']} payment ${d['fl-pay.TcpRetransSegs']}; ` +
    `orders >= 200 ms or failed: ${slowOrders.length}/${orders.length} (${slowOrders.map((r) => r.ms.toFixed(0)).join(', ')} ms); browse: ${slowBrowse.length}/${browse.length}`);

  const mine = listed.find((f) => f.id === d.fault.id);
  assert.equal(mine?.spec.label, 'demo scenario packet-loss', `inject ls shows the fault: ${JSON.stringify(listed)}`);
  t.diagnostic(`attached: ${mine!.attachments.join('; ')} (${linksDuring} new links)`);
  // tcx links on payment's interface only (ingress + egress): the orders side is untouched
  assert.ok(mine!.attachments.length === 2 && mine!.attachments.every((a) => /^tcx .*netns fl-pay/.test(a)), mine!.attachments.join('; '));
  assert.ok(linksDuring >= 2, 'the tcx links are in the kernel (bpftool link)');
  assert.deepEqual(gsoDuring, gsoDuring.map(() => 1), 'one segment per packet on fl-pay while the loss is on');
  assert.deepEqual(gsoMaxSegs('fl-pay'), gsoBefore, 'gso_max_segs restored at the revert');

  // the kernel dropped about 20 % of the edge's packets, and TCP had to retransmit
  assert.ok(d.fault.packetsSeen >= 100, `program saw ${d.fault.packetsSeen} packets of the edge`);
  const ratio = d.fault.packetsActedOn / d.fault.packetsSeen;
  assert.ok(ratio > 0.1 && ratio < 0.3, `drop ratio ${ratio.toFixed(3)} near 0.2`);
  assert.ok(d['fl-ord.TcpRetransSegs'] + d['fl-pay.TcpRetransSegs'] >= 1, 'TCP retransmitted on the edge');
  // client-side ground truth: orders (through the edge) suffer, browsing (catalog, not through it) does not
  assert.ok(orders.length >= 10, `${orders.length} orders during the fault`);
  assert.ok(slowOrders.length >= 1, 'at least one order delayed by a retransmission timeout');
  assert.ok(phases.fault.order!.mean > phases.baseline.order!.mean, `order mean ${phases.baseline.order!.mean} -> ${phases.fault.order!.mean} ms`);
  // (a busy machine — other tests, a loaded CI box — slows every route: judge browsing against the orders,
  // measured at the same time, not against zero)
  const orderShare = slowOrders.length / orders.length;
  const browseShare = slowBrowse.length / browse.length;
  // ~25 orders, each delayed with p ~0.3-0.5 (measured): fewer than 3 has a chance of ~1 % at p = 0.3
  assert.ok(slowOrders.length >= 3, `${slowOrders.length} orders delayed >= 200 ms`);
  assert.equal(browse.filter(failed).length, 0, 'no browse request failed');
  assert.ok(orderShare >= browseShare + 0.1, `browse >= 200 ms: ${(browseShare * 100).toFixed(0)} %, orders ${(orderShare * 100).toFixed(0)} %`);

  // ground truth: JSON lines (as before) and the store's faults table (scenario rows + the engine's events)
  const line = readFileSync(groundTruthFile(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as GroundTruth).at(-1)!;
  assert.deepEqual({ ...line, details: undefined }, { ...gt, details: undefined });
  assert.deepEqual(gt.target, { service: 'payment', host: 'fl-pay', endpoint: 'POST /charge', edge: { from: 'orders', to: 'payment' } });
  assert.ok(gt.end - gt.start >= 12_000 && gt.end - gt.start < 17_000, `window ${gt.end - gt.start} ms`);
  const store = await openStore(storeUrl);
  const rows = await store.list('faults', { fromNs: BigInt(gt.start - 1000) * 1_000_000n, toNs: BigInt(gt.end + 1000) * 1_000_000n });
  await store.close();
  const got = rows.map((r) => `${r.kind} ${r.state}`).sort();
  t.diagnostic(`faults table: ${got.join(', ')}`);
  assert.deepEqual(got, ['loss injected', 'loss stopped', 'packet-loss injected', 'packet-loss stopped']);
  const scenarioEnd = rows.find((r) => r.kind === 'packet-loss' && r.state === 'stopped')!;
  assert.equal(scenarioEnd.target, 'payment@fl-pay POST /charge (edge orders->payment)');
  assert.equal(scenarioEnd.ts_ns, BigInt(gt.end) * 1_000_000n);
  assert.equal((scenarioEnd.data as { groundTruth: GroundTruth }).groundTruth.start, gt.start);
  const engineStop = rows.find((r) => r.kind === 'loss' && r.state === 'stopped')!;
  assert.equal(engineStop.id, d.fault.id);
  assert.ok(Number(engineStop.ts_ns / 1_000_000n) <= gt.end, 'the engine stopped the fault at the revert, not at its TTL');
});

test('blackhole of fl-cat: catalog routes time out, cart routes stay healthy', { skip }, async (t) => {
  // 8 rps: the catalog requests hanging 5 s stay within frontend's 32-socket catalog pool
  const running = runScenario('blackhole', { baselineS: 3, faultS: 7, recoveryS: 2, rps: 8, profile: 'steady', log: () => {} });
  running.catch(() => {});
  const during = await attachedAt(6000);
  const { groundTruth: gt, phases } = await running;
  runs.push(gt);
  const d = gt.details as { fault: { activeAtMs: number; packetsSeen: number; packetsActedOn: number } };
  // catalog requests sent while the fault was on were never answered before the revert: they failed
  // (frontend's 5 s catalog timeout) or got through after it
  const catalog = ['home', 'browse', 'product'].flatMap((r) => sent(r, d.fault.activeAtMs, gt.end - 300));
  const answeredDuring = catalog.filter((r) => !failed(r) && r.t + r.ms < gt.end - 200);
  const cart = ['cart-add', 'cart-view'].flatMap((r) => sent(r, gt.start, gt.end));
  t.diagnostic(`${table(phases)}; dropped ${d.fault.packetsActedOn}/${d.fault.packetsSeen}; catalog requests in the window: ` +
    `${catalog.filter(failed).length}/${catalog.length} failed, the others answered after the revert (${catalog.filter((r) => !failed(r)).map((r) => r.ms.toFixed(0)).join(', ')} ms); ` +
    `cart requests slow or failed: ${cart.filter(slow).length}/${cart.length}`);
  assert.deepEqual(gt.target, { service: 'catalog', host: 'fl-cat' });
  assert.ok(during.linkIds.length >= 2, 'tcx links while the blackhole is on');
  assert.ok(d.fault.packetsSeen > 0 && d.fault.packetsActedOn === d.fault.packetsSeen, 'every packet of fl-cat dropped');
  assert.ok(catalog.length >= 8, `${catalog.length} catalog requests in the fault window`);
  assert.deepEqual(answeredDuring, [], 'no catalog request answered while fl-cat was blackholed');
  assert.ok(catalog.filter(failed).length >= 1, 'some timed out outright');
  assert.ok(cart.length >= 3, `${cart.length} cart requests during the fault`);
  assert.deepEqual(cart.filter(failed), [], 'no cart request failed');
  // every catalog request was held >= 200 ms or failed; cart requests (not via fl-cat) mostly were not
  assert.ok(cart.filter(slow).length <= cart.length / 2, `cart requests stay fast: ${cart.filter(slow).length}/${cart.length} slow`);
  for (const route of ['browse', 'product']) assert.equal(phases.recovery[route]?.errors ?? 0, 0, `${route} healthy again after the revert`);
});

test('request-fault: GET /api/cart/... hangs until the revert, every other route stays healthy', { skip }, async (t) => {
  const running = runScenario('request-fault', { baselineS: 3, faultS: 6, recoveryS: 2, rps: 15, profile: 'steady', log: () => {} });
  running.catch(() => {});
  const during = await attachedAt(6000);
  const { groundTruth: gt, phases } = await running;
  runs.push(gt);
  const activeAt = (gt.details as { fault: { activeAtMs: number } }).fault.activeAtMs;
  const views = sent('cart-view', activeAt, gt.end - 300);
  const others = ['browse', 'product', 'cart-add', 'home'].flatMap((r) => sent(r, gt.start, gt.end));
  t.diagnostic(`${table(phases)}; attached ${activeAt - gt.start} ms after the start; cart views: ${views.map((r) => `${r.ms.toFixed(0)}${failed(r) ? '!' : ''}`).join(', ')} ms`);
  assert.equal(gt.target.endpoint, 'GET /api/cart/:user');
  assert.ok(during.linkIds.length >= 1, 'a tcx link (frontend ingress) while the request fault is on');
  assert.ok(views.length >= 3, `${views.length} cart views during the fault`);
  // each one waited at least until the revert (its request segment was dropped), or timed out
  assert.deepEqual(views.filter((r) => !failed(r) && r.t + r.ms < gt.end - 200), [], 'no cart view was answered during the fault');
  assert.ok(others.length >= 20);
  assert.deepEqual(others.filter(failed), [], 'no other route failed');
  // (each cart view hung for seconds; the others are fast unless the machine itself is busy)
  assert.ok(others.filter(slow).length <= others.length / 2, `other routes stay fast: ${others.filter(slow).length}/${others.length} slow`);
});

test('after the revert nothing injected remains, and demo down removes the shop', { skip }, async () => {
  assert.equal(runs.length, 3, 'all three scenarios ran');
  assert.deepEqual(faultsListed(), [], '`faultlens inject ls --json` is empty');
  assert.ok(ours.linkIds.length >= 5, `${ours.linkIds.length} links seen during the faults`);
  assert.deepEqual(stillThere(ours), { progs: [], links: [], cgroup: [] }, 'no inject program, tcx or cgroup link of ours left (bpftool)');
  await down(() => {});
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const h of HOSTS) assert.doesNotMatch(netns, new RegExp(`^${h.ns}( |$)`, 'm'), `namespace ${h.ns} removed`);
  assert.ok(!existsSync(join(process.env.FAULTLENS_DEMO_DIR!, 'pgdata')));
});
