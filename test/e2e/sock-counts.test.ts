// Flows-only capture with the data counted in the kernel (countInKernel): a TCP socket's first data
// syscall is recorded, the rest only add to per-socket counters that reach the flow table by a periodic
// read and, final, on the close record. The flows must be exactly what the record-per-syscall capture
// gives (sock-capture.test.ts) with a handful of records per connection instead of one per syscall.
import { after, before, describe, test } from 'node:test';
import type { Flow } from '../../src/model/flow.js';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { SockCapture, sockCaptureUnavailable } from '../helpers/sock-capture.js';
import { runPeer, sockPeerBinary, startServer } from '../helpers/sock-peer.js';
import { SOCK_COMPAT_OBJECT, SOCK_LITE_OBJECT, SOCK_OBJECT, SOCK_RAW_OBJECT } from '../../src/collect/sock-collector.js';

const skip = sockCaptureUnavailable();
const show = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v));

/** sock-peer mode -> syscall families the flow must list (client send/recv, server recv/send). */
const MODES: Record<string, string[]> = {
  write: ['write', 'read'],
  writev: ['writev', 'readv'],
  sendto: ['sendto', 'recvfrom'],
  sendmsg: ['sendmsg', 'recvmsg'],
  sendmmsg: ['sendmmsg', 'recvmmsg'], // recorded per syscall even here (the kernel side does not sum them)
  sendfile: ['sendfile', 'read', 'write'],
  splice: ['splice'],
};

// every probe object that can count: the lite one without syscall tracepoints (the default for counting),
// and the syscall probes in count_in_kernel mode: raw sys_exit, classic tracepoints, the compatible one
const OBJECTS: [string, string | undefined][] = [['lite, the default', undefined], ['raw', SOCK_RAW_OBJECT], ['classic', SOCK_OBJECT], ['compat', SOCK_COMPAT_OBJECT]];

for (const [label, objectPath] of OBJECTS) describe(`flows counted in the kernel (${label} probe): exact bytes, a few records per connection`, { skip }, () => {
  let cap: SockCapture;
  let pair: NetnsPair;
  let n = 0;

  before(() => {
    sockPeerBinary();
    pair = createNetnsPair();
    cap = new SockCapture({ countInKernel: true, payloadBytes: 0, objectPath });
    if (objectPath === undefined) assert.equal(cap.collector.stats().object, SOCK_LITE_OBJECT.split('/').pop());
  });
  after(() => {
    cap?.close();
    pair?.destroy();
  });

  for (const [mode, families] of Object.entries(MODES)) {
    for (const place of ['loopback IPv4', 'veth IPv6']) {
      test(`tcp ${mode} [${place}]`, async () => {
        n++;
        const sent = 20_000 + 37 * n; // ~20 sends of 1000 B: distinct sizes so a mixed-up flow cannot pass
        const reply = 15_000 + 11 * n;
        const veth = place.startsWith('veth');
        const clientNs = veth ? pair.a : undefined;
        const serverNs = veth ? pair.b : undefined;
        const serverIp = veth ? pair.b.ip6 : '127.0.0.1';
        const clientIp = veth ? pair.a.ip6 : '127.0.0.1';
        const srv = await startServer(serverNs, ['tcp', serverIp, '0', mode, String(sent), String(reply), 'accept4']);
        const cli = await runPeer(clientNs, ['client', 'tcp', serverIp, String(srv.port), mode, String(sent), String(reply)]);
        const srvReport = await srv.done;
        const client = { ip: clientIp, port: cli.lport };
        const server = { ip: serverIp, port: srv.port };
        const flow = await cap.waitFor(() => {
          const f = cap.findFlow('tcp', client, server);
          return f && f.closedNs !== undefined && f.bytesClientToServer === sent && f.bytesServerToClient === reply ? f : undefined;
        });
        assert.ok(flow, `no complete flow: ${show(cap.findFlow('tcp', client, server))}`);
        assert.deepEqual(flow.client, client);
        assert.deepEqual(flow.server, server);
        assert.equal(flow.clientProc?.pid, cli.pid);
        assert.equal(flow.serverProc?.pid, srvReport.pid);
        // the lite probe sees the passive open in the TCP stack (no accept record: the data names the server)
        const lifecycle = objectPath === undefined ? ['connect', 'close'] : ['connect', 'accept4', 'close'];
        for (const f of [...families, ...lifecycle]) assert.ok(flow.syscalls?.includes(f), `${f} missing from ${flow.syscalls}`);
        // calls: the peer moves at most 1000 B per syscall (2000 for the iovec modes), bar sendfile's one call
        assert.ok(flow.callsServerToClient >= Math.ceil(reply / 2000), show(flow));
        if (mode !== 'sendfile') assert.ok(flow.callsClientToServer >= Math.ceil(sent / 2000), show(flow));
        const records = cap.eventsOf(cli.pid).length + cap.eventsOf(srvReport.pid).length;
        if (mode === 'sendmmsg' && objectPath !== undefined) assert.ok(records > 10, `sendmmsg is recorded per syscall (${records} records)`);
        else assert.ok(records <= 10, `${records} records for two sockets that made ${Math.ceil(sent / 1000) + Math.ceil(reply / 1000)}+ data syscalls each way`);
      });
    }
  }

  test("the agent's own connections leave no flow", async () => {
    // this process is the agent here (SockCapture ignores its own pid): a server and client of its own
    const server = createServer((s) => { s.on('data', (d) => s.end(d)); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((res, rej) => {
        const c = connect(port, '127.0.0.1', () => c.write('x'.repeat(500)));
        c.on('data', () => {}).on('end', () => res()).on('error', rej);
      });
    }
    server.close();
    // a peer's connection right after proves the capture was live meanwhile
    const srv = await startServer(undefined, ['tcp', '127.0.0.1', '0', 'write', '1000', '1000', 'accept4']);
    const cli = await runPeer(undefined, ['client', 'tcp', '127.0.0.1', String(srv.port), 'write', '1000', '1000']);
    await srv.done;
    const peer = await cap.waitFor(() => cap.findFlow('tcp', { ip: '127.0.0.1', port: cli.lport }, { ip: '127.0.0.1', port: srv.port })?.closedNs !== undefined || undefined);
    assert.ok(peer, 'the peer flow was captured');
    assert.deepEqual(cap.table.flows().filter((f) => f.server.port === port || f.client.port === port).map(show), []);
  });

  test('an open connection shows its bytes before it closes; the close brings the rest', async () => {
    // a python client that writes 12 x 1000 B, waits for the test to look, then writes 5000 B more and closes
    const srvPy = 'import socket,sys\ns=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1)\n' +
      'print(s.getsockname()[1], flush=True)\nc,_=s.accept()\nn=0\nwhile True:\n  d=c.recv(65536)\n  if not d: break\n  n+=len(d)\n' +
      'print(n, flush=True)\nc.close()';
    const srv = spawn('python3', ['-c', srvPy], { stdio: ['ignore', 'pipe', 'inherit'] });
    const srvExit = new Promise((r) => srv.once('exit', r));
    let srvOut = '';
    srv.stdout!.on('data', (d: Buffer) => (srvOut += d.toString()));
    const port = await new Promise<number>((res) => srv.stdout!.once('data', (d: Buffer) => res(Number(String(d).trim()))));
    const cliPy = `import socket,sys\nc=socket.create_connection(("127.0.0.1",${port}))\nprint(c.getsockname()[1], flush=True)\n` +
      'for i in range(12): c.sendall(b"x"*1000)\nsys.stdin.readline()\nc.sendall(b"y"*5000)\nc.close()';
    const cli = spawn('python3', ['-c', cliPy], { stdio: ['pipe', 'pipe', 'inherit'] });
    const cliExit = new Promise((r) => cli.once('exit', r));
    const lport = await new Promise<number>((res) => cli.stdout!.once('data', (d: Buffer) => res(Number(String(d).trim()))));
    const client = { ip: '127.0.0.1', port: lport };
    const server = { ip: '127.0.0.1', port };
    const open = await cap.waitFor(() => {
      const f = cap.findFlow('tcp', client, server);
      return f && f.bytesClientToServer === 12_000 ? f : undefined;
    });
    assert.ok(open, `bytes of the open connection not seen: ${show(cap.findFlow('tcp', client, server))}`);
    assert.equal(open.closedNs, undefined);
    cli.stdin!.write('\n');
    await cliExit;
    await srvExit;
    assert.equal(Number(srvOut.trim().split('\n').pop()), 17_000);
    const closed = await cap.waitFor(() => {
      const f = cap.findFlow('tcp', client, server);
      return f?.closedNs !== undefined ? f : undefined;
    });
    assert.ok(closed, 'flow not closed');
    assert.equal(closed.bytesClientToServer, 17_000);
    const st = cap.collector.stats();
    assert.ok(st.counted > 20n, `data syscalls counted in the kernel: ${st.counted}`);
    assert.equal(st.countsFull, 0n);
  });

  test('pause() detaches every probe: what moves meanwhile is not counted; resume() counts again', async () => {
    const links = () => (JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' }) || '[]') as unknown[]).length;
    const srvPy = 'import socket\ns=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1)\n' +
      'print(s.getsockname()[1], flush=True)\nc,_=s.accept()\nwhile c.recv(65536): pass\nc.close()';
    const srv = spawn('python3', ['-c', srvPy], { stdio: ['ignore', 'pipe', 'inherit'] });
    const srvExit = new Promise((r) => srv.once('exit', r));
    const port = await new Promise<number>((res) => srv.stdout!.once('data', (d: Buffer) => res(Number(String(d).trim()))));
    // one send of 3000 B per line read; the line's length picks the size (3, 4 or 5 thousand)
    const cliPy = `import socket,sys\nc=socket.create_connection(("127.0.0.1",${port}))\nprint(c.getsockname()[1], flush=True)\n` +
      'for line in sys.stdin:\n  c.sendall(b"z"*(1000*len(line.strip())))\n  print("sent", flush=True)\nc.close()';
    const cli = spawn('python3', ['-c', cliPy], { stdio: ['pipe', 'pipe', 'inherit'] });
    const cliExit = new Promise((r) => cli.once('exit', r));
    const lines: string[] = [];
    const nextLine = () => new Promise<string>((res) => { const t = setInterval(() => { if (lines.length) { clearInterval(t); res(lines.shift()!); } }, 10); });
    cli.stdout!.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter(Boolean)));
    const lport = Number(await nextLine());
    const send = async (k: number) => { cli.stdin!.write('x'.repeat(k) + '\n'); await nextLine(); };
    const client = { ip: '127.0.0.1', port: lport };
    const server = { ip: '127.0.0.1', port };
    const bytes = () => cap.findFlow('tcp', client, server)?.bytesClientToServer;
    await send(3);
    assert.ok(await cap.waitFor(() => (bytes() === 3000 ? true : undefined)), `3000 B not seen: ${bytes()}`);
    const linked = links();
    const attached = cap.collector.stats().attached;
    cap.collector.pause();
    assert.equal(cap.collector.stats().attached, 0);
    assert.equal(links(), linked - attached, 'the kernel still holds links of the paused probe');
    await send(4);
    cap.collector.resume();
    assert.equal(cap.collector.stats().attached, attached);
    assert.equal(links(), linked);
    await send(5);
    cli.stdin!.end();
    await cliExit;
    await srvExit;
    const closed = await cap.waitFor(() => {
      const f = cap.findFlow('tcp', client, server);
      return f?.closedNs !== undefined ? f : undefined;
    });
    assert.ok(closed, 'flow not closed');
    assert.equal(closed.bytesClientToServer, 8000, 'the 4000 B sent while paused must not count, the rest must');
  });

  test('connected UDP (as resolvers use it) stays recorded per datagram', async () => {
    const r = execFileSync('python3', ['-c',
      'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))\n' +
      'c=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); c.connect(s.getsockname())\nfor i in range(4): c.send(b"q"*60)\n' +
      'for i in range(4):\n  d,a=s.recvfrom(1000); s.sendto(b"a"*90, a)\nfor i in range(4): c.recv(1000)\n' +
      'print(c.getsockname()[1], s.getsockname()[1])'], { encoding: 'utf8' });
    const [cport, sport] = r.trim().split(/\s+/).map(Number);
    const flow = await cap.waitFor(() => {
      const f = cap.findFlow('udp', { ip: '127.0.0.1', port: cport! }, { ip: '127.0.0.1', port: sport! });
      return f && f.bytesClientToServer === 240 && f.bytesServerToClient === 360 ? f : undefined;
    });
    assert.ok(flow, `udp flow with 240 + 360 bytes: ${show(cap.findFlow('udp', { ip: '127.0.0.1', port: cport! }, { ip: '127.0.0.1', port: sport! }))}`);
    assert.equal(flow.callsClientToServer, 4);
  });

  // the lite probe cannot: the sender's own address is unspecified and only recvfrom() names it
  if (objectPath !== undefined) test('UDP from an unbound socket stays recorded per datagram', async () => {
    const r = execFileSync('python3', ['-c',
      'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))\n' +
      'c=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(5): c.sendto(b"z"*100, s.getsockname())\n' +
      'for i in range(5): s.recvfrom(1000)\nprint(c.getsockname()[1], s.getsockname()[1])'], { encoding: 'utf8' });
    const [cport, sport] = r.trim().split(/\s+/).map(Number);
    const flow = await cap.waitFor(() => {
      const f = cap.findFlow('udp', { ip: '127.0.0.1', port: cport! }, { ip: '127.0.0.1', port: sport! });
      return f && f.bytesClientToServer === 500 ? f : undefined;
    });
    assert.ok(flow, 'udp flow with 500 bytes');
    assert.equal(flow.callsClientToServer, 5);
  });
});

test('the flows-only agent (startAgent, apm off) ships each connection with its exact bytes', { skip }, async () => {
  const { startAgent } = await import('../../src/cli/agent-runtime.js');
  const shipped: Flow[] = [];
  const agent = startAgent({ host: 'test', apm: false, intervalMs: 100, sink: { flows: (_h, fs) => { shipped.push(...fs); } }, onWarning: () => {} });
  try {
    const srv = await startServer(undefined, ['tcp', '127.0.0.1', '0', 'write', '30011', '12007', 'accept']);
    const cli = await runPeer(undefined, ['client', 'tcp', '127.0.0.1', String(srv.port), 'write', '30011', '12007']);
    await srv.done;
    const deadline = Date.now() + 5000;
    let flow: Flow | undefined;
    while (!flow && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      flow = shipped.find((f) => f.client.port === cli.lport && f.server.port === srv.port && f.closedNs !== undefined);
    }
    assert.ok(flow, `no closed flow shipped for port ${cli.lport}`);
    assert.equal(flow.bytesClientToServer, 30011);
    assert.equal(flow.bytesServerToClient, 12007);
    assert.equal(flow.clientProc?.pid, cli.pid);
  } finally {
    await agent.close();
  }
});
