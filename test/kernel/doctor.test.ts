// `faultlens doctor` against this kernel: the facts the test can check independently must match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, skipUnlessRoot } from './helpers.js';
import { probeFeatures, type FeatureReport } from '../../src/kernel/index.js';

function doctor(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'doctor', ...args], { cwd: ROOT, encoding: 'utf8' });
}
const find = (r: FeatureReport, area: string, name: string) => {
  const c = r.checks.find((x) => x.area === area && x.name === name);
  assert.ok(c, `no check ${area}/${name}`);
  return c;
};

test('the feature report matches what the test can see of this kernel', { skip: skipUnlessRoot }, () => {
  const report = probeFeatures();
  assert.equal(report.essentialMissing, false);
  assert.equal(find(report, 'kernel', 'BTF (CO-RE)').status, existsSync('/sys/kernel/btf/vmlinux') ? 'ok' : 'missing');
  assert.equal(find(report, 'map type', 'ringbuf').status, 'ok');
  assert.equal(find(report, 'program type', 'tracepoint').status, 'ok');
  const kprobe = existsSync('/sys/bus/event_source/devices/kprobe') || existsSync('/sys/kernel/tracing/kprobe_events');
  assert.equal(find(report, 'hook', 'kprobes').status, kprobe ? 'ok' : 'degraded');
  const tracing = find(report, 'program type', 'tracing');
  if (tracing.status !== 'ok') assert.match(tracing.detail, /falls back to tracepoints/);
  const sys = find(report, 'tracepoints', 'syscalls');
  assert.equal(sys.status, existsSync('/sys/kernel/tracing/events/syscalls/sys_enter_recvmmsg') ? 'ok' : 'missing');
  assert.equal(find(report, 'tracepoints', 'tcp').status,
    existsSync('/sys/kernel/tracing/events/tcp/tcp_cong_state_set') && existsSync('/sys/kernel/tracing/events/tcp/tcp_probe') ? 'ok' : 'degraded');
});

test('`faultlens doctor` prints a table with a verdict and exits 0; --json is the same report', { skip: skipUnlessRoot }, () => {
  const r = doctor();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^STATUS\s+AREA\s+CHECK\s+DETAIL/);
  assert.match(r.stdout, /^OK\s+kernel\s+BTF \(CO-RE\)/m);
  assert.match(r.stdout, /faultlens can run on kernel/);
  const j = doctor('--json');
  assert.equal(j.status, 0, j.stderr);
  const report = JSON.parse(j.stdout) as FeatureReport;
  assert.deepEqual(report.checks.map((c) => c.name), probeFeatures().checks.map((c) => c.name));
});

test('doctor as an unprivileged user says privilege is MISSING and exits 1', { skip: skipUnlessRoot }, () => {
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'doctor', '--json'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME: '/tmp' } });
  assert.equal(r.status, 1, r.stderr);
  const report = JSON.parse(r.stdout) as FeatureReport;
  assert.equal(report.essentialMissing, true);
  assert.equal(find(report, 'privilege', 'root / CAP_BPF').status, 'missing');
});
