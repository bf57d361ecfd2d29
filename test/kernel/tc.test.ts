// tc programs on a veth pair between two namespaces we create: ingress and egress count exactly the
// datagrams sent; detach/close remove our filters and the clsact qdisc we added (and only that).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { BpfObject } from '../../src/kernel/index.js';
import { FIXTURE, PYTHON, createVethPair, fixtureKernelState, settledKernelState, kernelBaseline, sendUdp, sh, skipUnlessRoot, tcState, tcxAttached, u32 } from './helpers.js';

const skip = skipUnlessRoot || (!existsSync(PYTHON) && `${PYTHON} missing`);
const PORT = 9999;

function configure(obj: BpfObject): void {
  const c = Buffer.alloc(obj.structLayout('fixture_config').size);
  c.writeUInt16LE(PORT, 12);
  obj.map('fixture_config').update(u32(0), c);
}
const packets = (obj: BpfObject) => obj.map('counts').lookup(u32(3))!.readBigUInt64LE(0);

test('tc ingress (by ifname in a netns) and egress count UDP datagrams; close() removes filters and clsact', { skip }, () => {
  const veth = createVethPair('tc');
  const baseline = kernelBaseline();
  const obj = BpfObject.load(FIXTURE);
  try {
    configure(obj);
    const ingress = obj.program('tc_count').attachTc({ netns: veth.nsB, ifname: veth.ifB, direction: 'ingress' });
    const egress = obj.program('tc_count').attachTc({ netns: veth.nsA, ifname: veth.ifA, direction: 'egress', priority: 7 });
    assert.match(ingress.description, new RegExp(`^tc ${veth.ifB} \\(ifindex \\d+\\) netns ${veth.nsB} ingress handle 0x\\d+ prio \\d+ -> tc_count$`));
    assert.match(egress.description, / egress handle 0x\d+ prio 7 -> tc_count$/);
    assert.ok(tcState(veth.nsB, veth.ifB).clsact);
    assert.match(tcState(veth.nsB, veth.ifB).ingress, /tc_count/);
    assert.match(tcState(veth.nsA, veth.ifA).egress, /tc_count/);

    sendUdp(veth.nsA, veth.ipB, PORT, 7);
    sendUdp(veth.nsA, veth.ipB, PORT + 1, 5); // other port: not counted
    assert.equal(packets(obj), 14n); // 7 leaving A + 7 entering B

    egress.detach();
    assert.deepEqual(tcState(veth.nsA, veth.ifA), { clsact: false, ingress: '', egress: '' });
    sendUdp(veth.nsA, veth.ipB, PORT, 3);
    assert.equal(packets(obj), 17n);
  } finally {
    obj.close();
  }
  assert.deepEqual(tcState(veth.nsB, veth.ifB), { clsact: false, ingress: '', egress: '' });
  assert.deepEqual(settledKernelState(baseline), baseline);
  veth.destroy();
});

test('a clsact qdisc that existed before is kept; only our filter goes', { skip }, () => {
  const veth = createVethPair('tq', 214);
  try {
    sh('ip', ['netns', 'exec', veth.nsA, 'tc', 'qdisc', 'add', 'dev', veth.ifA, 'clsact']);
    const obj = BpfObject.load(FIXTURE);
    try {
      configure(obj);
      obj.program('tc_count').attachTc({ netns: veth.nsA, ifname: veth.ifA, direction: 'egress' });
      sendUdp(veth.nsA, veth.ipB, PORT, 4);
      assert.equal(packets(obj), 4n);
    } finally {
      obj.close();
    }
    assert.deepEqual(tcState(veth.nsA, veth.ifA), { clsact: true, ingress: '', egress: '' });
  } finally {
    veth.destroy();
  }
});

test('tcx mode: a bpf_link on the interface that counts the same and goes with close()', { skip }, () => {
  const veth = createVethPair('tx', 216);
  const baseline = kernelBaseline();
  try {
    const obj = BpfObject.load(FIXTURE);
    try {
      configure(obj);
      const l = obj.program('tc_count').attachTc({ netns: veth.nsB, ifname: veth.ifB, direction: 'ingress', mode: 'tcx' });
      assert.match(l.description, new RegExp(`^tcx ${veth.ifB} \\(ifindex \\d+\\) netns ${veth.nsB} ingress -> tc_count$`));
      assert.equal(tcxAttached(), true);
      assert.equal(fixtureKernelState().links, baseline.links + 1);
      sendUdp(veth.nsA, veth.ipB, PORT, 6);
      assert.equal(packets(obj), 6n);
    } finally {
      obj.close();
    }
    assert.equal(tcxAttached(), false);
    assert.deepEqual(settledKernelState(baseline), baseline);
  } finally {
    veth.destroy();
  }
});

test('a failed tc attach leaves no filter and no clsact qdisc behind', { skip }, () => {
  const veth = createVethPair('tf', 218);
  try {
    const obj = BpfObject.load(FIXTURE);
    try {
      // refused before touching the interface: wrong program type
      assert.throws(() => obj.program('count_write').attachTc({ netns: veth.nsB, ifname: veth.ifB, direction: 'ingress' }),
        /cannot attach program 'count_write' to tc: it is a tracepoint program, tc needs sched_cls/);
      assert.deepEqual(tcState(veth.nsB, veth.ifB), { clsact: false, ingress: '', egress: '' });
      // refused by the kernel after clsact exists: a second filter at the same priority and handle
      configure(obj);
      const first = obj.program('tc_count').attachTc({ netns: veth.nsB, ifname: veth.ifB, direction: 'ingress', priority: 5, handle: 7 });
      assert.match(first.description, /handle 0x7 prio 5 /);
      assert.throws(() => obj.program('tc_count').attachTc({ netns: veth.nsB, ifname: veth.ifB, direction: 'ingress', priority: 5, handle: 7 }),
        /cannot attach program 'tc_count' to tc fl-vb .*ingress: .*exists/);
      sendUdp(veth.nsA, veth.ipB, PORT, 2);
      assert.equal(packets(obj), 2n); // the first filter still works, once
      assert.equal(obj.attachments().length, 1);
    } finally {
      obj.close();
    }
    assert.deepEqual(tcState(veth.nsB, veth.ifB), { clsact: false, ingress: '', egress: '' });
  } finally {
    veth.destroy();
  }
});

test('tc errors name the cause', { skip }, () => {
  const obj = BpfObject.load(FIXTURE);
  try {
    const p = obj.program('tc_count');
    assert.throws(() => p.attachTc({ ifname: 'fl-nosuch0', direction: 'ingress' }), /program 'tc_count'.*no interface 'fl-nosuch0'/);
    assert.throws(() => p.attachTc({ netns: 'fl-nosuch-ns', ifname: 'lo', direction: 'ingress' }),
      /network namespace 'fl-nosuch-ns' does not exist/);
    assert.throws(() => p.attachTc({ ifname: 'lo', direction: 'sideways' as 'ingress' }), /direction must be 'ingress' or 'egress'/);
    assert.throws(() => p.attachTc({ ifname: 'lo', direction: 'ingress', mode: 'bogus' as 'tcx' }), /mode must be 'netlink' or 'tcx'/);
    assert.deepEqual(obj.attachments(), []);
  } finally {
    obj.close();
  }
});
