// The collector against the real kernel: bad input and a missing tracepoint give clear messages, and
// everything it attached is gone after close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOCK_COMPAT_OBJECT, SockCollector } from '../../src/collect/sock-collector.js';
import { FlowTable } from '../../src/correlate/flows.js';
import { REPO_ROOT } from '../helpers/sock-layout.js';
import { sockCaptureUnavailable } from '../helpers/sock-capture.js';
import { runPeer, startServer } from '../helpers/sock-peer.js';
import { ownBpfFds } from '../kernel/helpers.js';

const skip = sockCaptureUnavailable();

/** BPF programs + links this process holds: other processes (agents, parallel work) load sock programs too,
 * so a kernel-wide count could move under us; our own fds cannot. */
function sockProgramsLoaded(): number {
  const own = ownBpfFds();
  return own.prog + own.link;
}

test('bad options, missing, malformed and foreign object files are refused with the cause named', { skip }, () => {
  assert.throws(() => SockCollector.start({ payloadBytes: 5000 }), /payloadBytes must be an integer in 0\.\.4096/);
  assert.throws(() => SockCollector.start({ objectPath: '/nonexistent/sock.bpf.o' }), /\/nonexistent\/sock\.bpf\.o is missing/);
  const dir = mkdtempSync(join(tmpdir(), 'fl-sock-bad-'));
  try {
    const garbage = join(dir, 'garbage.bpf.o');
    writeFileSync(garbage, 'not an object file');
    assert.throws(() => SockCollector.start({ objectPath: garbage }), /garbage\.bpf\.o is not a BPF object/);
    assert.throws(() => SockCollector.start({ objectPath: process.execPath }), /is not a BPF object/);
    // a valid BPF object that is not the socket probe: loads, then is refused and unloaded again
    const src = join(dir, 'other.bpf.c');
    writeFileSync(src, 'char LICENSE[] __attribute__((section("license"), used)) = "GPL";\n' +
      '__attribute__((section("tracepoint/syscalls/sys_enter_getpid"), used)) int sock_enter_other(void *ctx) { return 0; }\n');
    const obj = join(dir, 'other.bpf.o');
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', src, '-o', obj]);
    const before = sockProgramsLoaded();
    assert.throws(() => SockCollector.start({ objectPath: obj }), /struct sock_event is not in the BTF of .*other\.bpf\.o/);
    assert.equal(sockProgramsLoaded(), before, 'the refused object stayed loaded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tracepoint the kernel lacks is reported and skipped with its partner; the rest captures; close detaches all', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fl-sock-obj-'));
  try {
    const obj = join(dir, 'sock-missing-tp.bpf.o');
    execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-DSOCK_TEST_MISSING_TRACEPOINT',
      '-I', join(REPO_ROOT, 'bpf'), '-c', join(REPO_ROOT, 'bpf', 'sock.bpf.c'), '-o', obj]);
    const before = sockProgramsLoaded();
    const warnings: string[] = [];
    const c = SockCollector.start({ objectPath: obj, onWarning: (m) => warnings.push(m) });
    try {
      const st = c.stats();
      assert.deepEqual(st.skipped.map((s) => s.tracepoint).sort(),
        ['syscalls/sys_enter_faultlens_missing', 'syscalls/sys_exit_faultlens_missing']);
      assert.ok(warnings.some((w) => /tracepoint syscalls\/sys_enter_faultlens_missing does not exist/.test(w)), warnings.join('\n'));
      assert.ok(st.attached >= 30, `only ${st.attached} tracepoints attached`);
      assert.ok(sockProgramsLoaded() > before);
      // still capturing
      const it = c.events(); // subscribe first: records are delivered while the peers run
      const srv = await startServer(undefined, ['tcp', '127.0.0.1', '0', 'write', '10', '10']);
      const cli = await runPeer(undefined, ['client', 'tcp', '127.0.0.1', String(srv.port), 'write', '10', '10']);
      await srv.done;
      const deadline = Date.now() + 3000;
      let delivered = 0;
      const seen = new Set<number>();
      const timer = setTimeout(() => c.close(), 3000);
      for await (const ev of it) {
        delivered++;
        if (ev.pid === cli.pid) seen.add(ev.pid);
        if (seen.size || Date.now() > deadline) break;
      }
      clearTimeout(timer);
      assert.ok(seen.has(cli.pid), `no record of the client (pid ${cli.pid}) among ${delivered}`);
    } finally {
      c.close();
    }
    assert.equal(sockProgramsLoaded(), before, 'programs left in the kernel after close()');
    assert.equal(c.stats().attached, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the compatible probe (older kernels) captures the same flow', { skip }, async () => {
  execFileSync('make', ['-s', '-C', join(REPO_ROOT, 'bpf'), '.output/sock_compat.bpf.o']);
  const table = new FlowTable();
  const c = SockCollector.start({ objectPath: SOCK_COMPAT_OBJECT, onBatch: (b, v) => table.foldBatch(b, v), onWarning: () => {} });
  try {
    const srv = await startServer(undefined, ['tcp', '::1', '0', 'sendmmsg', '2345', '678']);
    const cli = await runPeer(undefined, ['client', 'tcp', '::1', String(srv.port), 'sendmmsg', '2345', '678']);
    const s = await srv.done;
    let flow;
    for (let i = 0; i < 100 && !flow; i++) {
      c.drain();
      flow = table.flows().find((f) => f.client.port === cli.lport && f.server.port === srv.port &&
        f.bytesClientToServer === 2345 && f.bytesServerToClient === 678 && f.closedNs !== undefined);
      if (!flow) await new Promise((r) => setTimeout(r, 30));
    }
    assert.ok(flow, 'the compatible probe did not produce the flow');
    assert.equal(flow.clientProc?.pid, cli.pid);
    assert.equal(flow.serverProc?.pid, s.pid);
    assert.deepEqual(flow.client, { ip: '::1', port: cli.lport });
  } finally {
    c.close();
  }
});
