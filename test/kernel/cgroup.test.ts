// cgroup hooks on a fresh cgroup v2 directory: sock_create (type from the section) and connect4
// (explicit type) see exactly the sockets of a process we put into that cgroup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject, cgroup2Mounts } from '../../src/kernel/index.js';
import { FIXTURE, PYTHON, fixtureKernelState, settledKernelState, kernelBaseline, sh, skipUnlessRoot, u32 } from './helpers.js';

const CG_ROOT = cgroup2Mounts()[0];
const skip = skipUnlessRoot || (!CG_ROOT && 'no cgroup v2 mount') || (!existsSync(PYTHON) && `${PYTHON} missing`);

function attachedTo(cg: string): { attach_type: string; name?: string }[] {
  return JSON.parse(sh('bpftool', ['cgroup', 'show', cg, '-j']).trim() || '[]');
}

test('cgroup sock_create, connect4, sock_ops, getsockopt see exactly a member process\'s sockets; close() removes all', { skip }, () => {
  const cg = join(CG_ROOT!, `fl-kt-${process.pid}`);
  mkdirSync(cg);
  try {
    const baseline = kernelBaseline();
    const obj = BpfObject.load(FIXTURE);
    try {
      const a = obj.program('sock_create').attachCgroup(cg);
      const b = obj.program('connect4').attachCgroup(cg, 'connect4');
      assert.equal(a.description, `cgroup ${cg} cgroup_inet_sock_create -> sock_create`);
      assert.equal(b.description, `cgroup ${cg} cgroup_inet4_connect -> connect4`);
      obj.program('sockops_count').attachCgroup(cg);
      obj.program('getsockopt_count').attachCgroup(cg, 'cgroup_getsockopt');
      assert.deepEqual(attachedTo(cg).map((x) => x.attach_type).sort(),
        ['cgroup_getsockopt', 'cgroup_inet4_connect', 'cgroup_inet_sock_create', 'cgroup_sock_ops']);

      // the child joins the cgroup itself, then makes 3 IPv6 UDP sockets, 2 IPv4 UDP connects,
      // 2 refused IPv4 TCP connects and 5 getsockopt calls
      sh('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${PYTHON} -c '
import socket
keep = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(3)]
for _ in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("127.0.0.1", 9)); s.close()
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try: t.connect(("127.0.0.1", 9))
    except OSError: pass
    t.close()
for _ in range(5): keep[0].getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
'`]);
      // our own sockets (outside the cgroup) must not count
      sh(PYTHON, ['-c', 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)']);
      const counts = obj.map('counts');
      assert.equal(counts.lookup(u32(2))!.readBigUInt64LE(0), 3n); // AF_INET6 + SOCK_DGRAM creations
      assert.equal(counts.lookup(u32(4))!.readBigUInt64LE(0), 4n); // connect4: UDP + TCP
      assert.equal(counts.lookup(u32(6))!.readBigUInt64LE(0), 2n); // sock_ops active TCP connects
      assert.equal(counts.lookup(u32(7))!.readBigUInt64LE(0), 5n); // getsockopt

      assert.throws(() => obj.program('connect4').attachCgroup(cg, 'no_such_type'), /unknown attach type 'no_such_type'/);
      // wrong program type (caught up front) and wrong attach type (refused by the kernel) attach nothing
      const before = attachedTo(cg).length;
      assert.throws(() => obj.program('count_write').attachCgroup(cg, 'connect4'),
        /cannot attach program 'count_write' to cgroup .*: it is a tracepoint program, not a cgroup program/);
      assert.throws(() => obj.program('connect4').attachCgroup(cg, 'sock_create'),
        /cannot attach program 'connect4' to cgroup .* as cgroup_inet_sock_create: .*attach type match/);
      assert.equal(attachedTo(cg).length, before);
    } finally {
      obj.close();
    }
    assert.deepEqual(attachedTo(cg), []);
    assert.deepEqual(settledKernelState(baseline), baseline);
  } finally {
    rmdirSync(cg); // the child has exited, so the cgroup is empty
  }
});
