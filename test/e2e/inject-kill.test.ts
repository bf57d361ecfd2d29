// SIGKILL of the process holding a fault: tcx/cgroup links die with it at once; netlink tc filters (the
// pre-6.6 path) survive it, but the in-kernel deadline turns them into no-ops at the TTL, and
// `inject stop --all` (removeStaleTcFilters) deletes them. Drives the real CLI (`inject ... --foreground`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { monotonicNs, removeStaleTcFilters, type ActiveFault } from '../../src/inject/index.js';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { injectKernelState, newInjectState, stillThere, injectSkipReason, peer, recoveredAt, startHttpServer, startProbe, tcFilters, tempRegistry, type ConnectResult, type HttpServer } from '../inject/helpers.js';

const skip = injectSkipReason();
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const registry = skip ? '' : tempRegistry();
let pair: NetnsPair;
let http: HttpServer;
const holders: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  pair = createNetnsPair();
  http = await startHttpServer(pair.b);
});

after(() => {
  for (const h of holders) h.kill('SIGKILL');
  http?.stop();
  if (pair) removeStaleTcFilters([pair.a.name, pair.b.name]);
  pair?.destroy();
});

/** Starts `faultlens inject blackhole --foreground --json` and resolves with the fault it reports. */
function holdBlackhole(ttlSec: number, extra: string[] = []): Promise<{ child: ChildProcess; fault: ActiveFault }> {
  return hold(['blackhole', '--netns', pair.b.name, '--local-port', String(http.port), '--ttl', String(ttlSec), ...extra]);
}

function hold(args: string[]): Promise<{ child: ChildProcess; fault: ActiveFault }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'inject', ...args, '--foreground', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FAULTLENS_INJECT_DIR: registry } });
  holders.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, fault: JSON.parse(out.split('\n')[0]!) as ActiveFault });
    });
    child.on('exit', (code) => reject(new Error(`holder exited (${code}) before injecting: ${err}`)));
  });
}

const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

test('tcx: after SIGKILL of the holder nothing stays attached and traffic flows at once', { skip }, async (t) => {
  const before = injectKernelState();
  const { child, fault } = await holdBlackhole(60);
  const during = await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '500']);
  const ours = newInjectState(before);
  const linksDuring = ours.linkIds.length;
  child.kill('SIGKILL');
  await exited(child);
  const state = stillThere(ours);
  const afterKill = await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '500']);
  t.diagnostic(`during ${JSON.stringify(during)} (${linksDuring} links, ${fault.attachments.join('; ')}), after SIGKILL ${JSON.stringify(afterKill)}, inject links left ${state.links.length}`);
  assert.equal(during.error, 'TIMEOUT');
  assert.ok(linksDuring >= 2);
  assert.deepEqual(state, { progs: [], links: [], cgroup: [] });
  assert.equal(afterKill.ok, true);
  assert.equal(tcFilters(pair.b.name, pair.b.ifname).includes('inject_tc'), false);
});

test('cgroup hooks: after SIGKILL of the holder no inject program stays in the cgroup tree', { skip }, async () => {
  const before = injectKernelState();
  const { child } = await hold(['refuse', '--netns', pair.a.name, '--remote-port', String(http.port), '--errno', 'EPERM', '--ttl', '60']);
  const during = await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '500']);
  const ours = newInjectState(before);
  assert.deepEqual(stillThere(ours).cgroup.sort(), ['inject_connect4', 'inject_connect6'], 'attached while the holder lives');
  child.kill('SIGKILL');
  await exited(child);
  const afterKill = await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '500']);
  assert.equal(during.error, 'EPERM');
  assert.equal(afterKill.ok, true);
  assert.deepEqual(stillThere(ours), { progs: [], links: [], cgroup: [] });
});

test('netlink filters survive SIGKILL but stop acting at the in-kernel deadline; stop --all removes them', { skip }, async (t) => {
  const ttlMs = 2500;
  const { child, fault } = await holdBlackhole(ttlMs / 1000, ['--tc-mode', 'netlink']);
  const probe = await startProbe(pair.a, pair.b.ip4, http.port, 100, ttlMs + 1500, 80);
  child.kill('SIGKILL');
  await exited(child);
  probe.go();
  const deadlineMs = Number(BigInt(fault.deadlineNs) - monotonicNs()) / 1e6;
  const filtersAfterKill = tcFilters(pair.b.name, pair.b.ifname);
  const r = await probe.results;
  const back = recoveredAt(r);
  const failed = r.filter((x) => !x.ok);
  const filtersAfterDeadline = tcFilters(pair.b.name, pair.b.ifname);
  t.diagnostic(`holder killed; ${failed.length} probes failed (last at ${failed.at(-1)?.t} ms), traffic back at ${back} ms, deadline at ${deadlineMs.toFixed(0)} ms`);
  assert.match(filtersAfterKill, /inject_tc_ingre/, 'the netlink filter outlived its SIGKILLed owner');
  assert.ok(failed.length >= 5, `the orphaned filter kept dropping: ${failed.length} failed probes`);
  assert.ok(back !== undefined && back >= deadlineMs - 110 && back <= deadlineMs + 250, `recovered at ${back} ms, deadline ${deadlineMs} ms`);
  assert.match(filtersAfterDeadline, /inject_tc_ingre/, 'still attached after the deadline, yet a no-op');
  const removed = removeStaleTcFilters([pair.b.name]);
  assert.ok(removed.length >= 2, `removed ${removed.join(', ')}`);
  assert.equal(tcFilters(pair.b.name, pair.b.ifname).includes('inject_tc'), false);
});
