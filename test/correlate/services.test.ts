// Service identity: config mapping > cgroup > interpreter script > exe > comm; endpoints learned from
// sockets; external peers named by DNS answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync, copyFileSync, symlinkSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceResolver, readProcProcess, serviceFromCgroup, serviceFromCmdline } from '../../src/correlate/services.js';
import { loadServiceMappings } from '../../src/correlate/apm-live.js';

test('names from cgroups, command lines and executables', () => {
  assert.equal(serviceFromCgroup('/faultlens-demo/orders'), 'orders');
  assert.equal(serviceFromCgroup('/system.slice/nginx.service'), 'nginx');
  assert.equal(serviceFromCgroup('/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope'), 'container:0123456789ab');
  assert.equal(serviceFromCgroup('/kubepods/burstable/podx/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'), 'container:0123456789ab');
  assert.equal(serviceFromCgroup('/user.slice/user-0.slice/session-3.scope'), undefined);
  assert.equal(serviceFromCgroup('/'), undefined);
  assert.equal(serviceFromCgroup('/init.scope'), undefined);
  assert.equal(serviceFromCmdline(['/usr/bin/node', '/srv/shop/orders.js']), 'orders');
  assert.equal(serviceFromCmdline(['node', '--import', 'tsx', '/srv/api/index.ts']), 'api');
  assert.equal(serviceFromCmdline(['python3', '-u', '/opt/billing/app.py']), 'billing');
  assert.equal(serviceFromCmdline(['java', '-Xmx1g', '-jar', '/opt/shop.jar']), 'shop');
  assert.equal(serviceFromCmdline(['/usr/sbin/nginx', '-g', 'daemon off;']), undefined);
});

test('precedence: config mapping, then cgroup, then script, then exe, then comm', () => {
  const procs: Record<number, { cmdline: string[]; exe?: string; cgroup?: string }> = {
    1: { cmdline: ['/usr/bin/node', '/srv/orders.js'], exe: '/usr/bin/node', cgroup: '/faultlens-demo/orders' },
    2: { cmdline: ['/usr/bin/node', '/srv/cart.js'], exe: '/usr/bin/node', cgroup: '/' },
    3: { cmdline: ['/usr/bin/redis-server', '*:6379'], exe: '/usr/bin/redis-server', cgroup: '/user.slice' },
    4: { cmdline: ['/usr/lib/postgresql/15/bin/postgres', '-D', '/x'], exe: '/usr/lib/postgresql/15/bin/postgres' },
  };
  const r = new ServiceResolver({
    readProcess: (pid, comm) => (procs[pid] ? { pid, comm, ...procs[pid] } : undefined),
    mappings: [{ name: 'db', exe: '/postgres$/' }, { name: 'kv', port: 6380 }],
  });
  assert.equal(r.ofProcess(1, 'node'), 'orders');
  assert.equal(r.ofProcess(2, 'node'), 'cart');
  assert.equal(r.ofProcess(3, 'redis-server'), 'redis-server');
  assert.equal(r.ofProcess(3, 'redis-server', 6380), 'kv'); // a port rule applies to the listening end
  assert.equal(r.ofProcess(4, 'postgres'), 'db');
  assert.equal(r.ofProcess(99, 'gone'), 'gone'); // exited process: its comm
});

test('endpoints learned from sockets; peers never seen named by DNS answer or IP', () => {
  const r = new ServiceResolver({ readProcess: () => undefined });
  r.learnEndpoint({ ip: '10.0.0.5', port: 8080 }, 111, 'orders', true);
  r.learnEndpoint({ ip: '127.0.0.1', port: 6379 }, 222, 'redis', true);
  assert.equal(r.ofEndpoint({ ip: '10.0.0.5', port: 8080 }, 999), 'orders'); // routable: netns does not matter
  assert.equal(r.ofEndpoint({ ip: '127.0.0.1', port: 6379 }, 222), 'redis');
  assert.equal(r.ofEndpoint({ ip: '127.0.0.1', port: 6379 }, 333), undefined); // loopback of another netns
  assert.equal(r.nameOf({ ip: '93.184.216.34', port: 443 }, 1, true), '93.184.216.34:443');
  r.learnDns('example.com', ['93.184.216.34', '2606:2800:220:1::']);
  assert.equal(r.nameOf({ ip: '93.184.216.34', port: 443 }, 1, true), 'example.com:443');
  assert.equal(r.nameOf({ ip: '2606:2800:220:1::', port: 50000 }, 1, false), 'example.com');
});

test('reads a live process from /proc (this one)', () => {
  const me = readProcProcess(process.pid, 'node')!;
  assert.ok(me.cmdline!.length > 0);
  assert.match(me.exe!, /node/);
  assert.equal(readProcProcess(2 ** 22 + 12345, 'x'), undefined);
});

test('a multi-call binary is named by the symlink it was started through (redis-server -> redis-check-rdb)', async () => {
  // a copy of sleep plus a symlink beside it, as Debian ships redis-server; and a plain start of the copy
  const dir = mkdtempSync(join(tmpdir(), 'fl-alias-'));
  const started: import('node:child_process').ChildProcess[] = [];
  try {
    copyFileSync('/bin/sleep', join(dir, 'fl-multicall'));
    symlinkSync('fl-multicall', join(dir, 'fl-applet'));
    const viaLink = spawn(join(dir, 'fl-applet'), ['30']);
    const direct = spawn(join(dir, 'fl-multicall'), ['30']);
    const bySymlinkElsewhere = spawn('bash', ['-c', `exec -a renamed ${join(dir, 'fl-multicall')} 30`]); // argv[0] alone changes nothing
    started.push(viaLink, direct, bySymlinkElsewhere);
    await new Promise((r) => setTimeout(r, 200));
    const r = new ServiceResolver();
    const name = (pid: number) => r.identify(readProcProcess(pid, '')!).name;
    assert.equal(name(viaLink.pid!), 'fl-applet');
    assert.equal(readProcProcess(viaLink.pid!, '')!.exe, join(dir, 'fl-applet'));
    assert.equal(name(direct.pid!), 'fl-multicall');
    assert.equal(name(bySymlinkElsewhere.pid!), 'fl-multicall');
  } finally {
    for (const c of started) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('service map files: a list or {services: [...]}, validated with a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fl-svcmap-'));
  try {
    const a = join(dir, 'a.yaml');
    writeFileSync(a, 'services:\n  - name: billing\n    cmdline: /billing\\.py/\n  - name: db\n    port: 5432\n');
    assert.deepEqual(loadServiceMappings(a), [{ name: 'billing', cmdline: '/billing\\.py/' }, { name: 'db', port: 5432 }]);
    const b = join(dir, 'b.yaml');
    writeFileSync(b, '- name: x\n  prot: 1\n');
    assert.throws(() => loadServiceMappings(b), /b\.yaml: 0: Unrecognized key.*prot/i);
    assert.throws(() => loadServiceMappings(join(dir, 'none.yaml')), /none\.yaml: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a parsed DNS answer names the peer at that address (real dnsmasq capture)', async () => {
  const { readFileSync } = await import('node:fs');
  const { RequestTracker } = await import('../../src/correlate/requests.js');
  const { ConnectionParser } = await import('../../src/protocols/index.js');
  type FxChunk = { dir: 'send' | 'recv'; tsNs: string; b64?: string; hex?: string };
  const fx = JSON.parse(readFileSync(new URL('../fixtures/protocols/dns-udp-dnsmasq.json', import.meta.url), 'utf8')) as { chunks: FxChunk[] };
  const services = new ServiceResolver({ readProcess: (pid, comm) => ({ pid, comm, cgroup: '/svc/web' }) });
  const tr = new RequestTracker({ services });
  const parser = new ConnectionParser();
  const recs = [];
  const answers = new Map<string, string[]>();
  for (const c of fx.chunks) {
    const payload = c.b64 !== undefined ? Buffer.from(c.b64, 'base64') : Buffer.from(c.hex ?? '', 'hex');
    for (const d of parser.push({ dir: c.dir, role: 'client', tsNs: BigInt(c.tsNs), bytes: payload, totalLen: payload.length })) {
      if (d.protocol === 'dns' && d.addresses.length) answers.set(d.target, d.addresses);
    }
    recs.push(...tr.push({
      tsNs: BigInt(c.tsNs), pid: 42, tid: 42, comm: 'node', cgroupId: 0n, netns: 1, sockId: 5n, kind: 'data', syscall: c.dir === 'send' ? 'sendto' : 'recvfrom',
      dir: c.dir, role: 'client', proto: 'udp', family: 4, local: { ip: '127.0.0.1', port: 45000 }, remote: { ip: '127.0.0.1', port: 5353 },
      ret: payload.length, bytes: payload.length, tcpState: 7, fd: 9, payload,
    }));
  }
  assert.deepEqual(recs.map((r) => `${r.method} ${r.endpoint} ${r.status}`), ['QUERY example.test NOERROR', 'QUERY www.example.test NOERROR', 'QUERY nope.test NXDOMAIN']);
  assert.ok(recs.every((r) => r.side === 'client' && r.clientService === 'web' && r.protocol === 'dns'));
  assert.ok(answers.size > 0, 'the capture has answers');
  for (const [name, addrs] of answers) {
    for (const a of addrs) {
      assert.equal(services.dnsNameOf(a), name);
      assert.equal(services.nameOf({ ip: a, port: 443 }, 1, true), `${name}:443`);
    }
  }
});
