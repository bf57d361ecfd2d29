// Acceptance (issue 2): real sockets, real kernel. For every syscall family, TCP and UDP, IPv4 and IPv6,
// on loopback and across a veth pair between two network namespaces, the captured flow has the exact
// 5-tuple, the pid and comm of each end, and byte counts equal to what the peers moved.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { createNetnsPair, type Netns, type NetnsPair } from '../helpers/netns.js';
import { SockCapture, sockCaptureUnavailable } from '../helpers/sock-capture.js';
import { runPeer, sockPeerBinary, startServer } from '../helpers/sock-peer.js';

const skip = sockCaptureUnavailable();

/** Syscall families each peer mode uses (client send/recv, server recv/send). */
const TCP_MODES: Record<string, string[]> = {
  write: ['write', 'read'],
  writev: ['writev', 'readv'],
  sendto: ['sendto', 'recvfrom'],
  sendmsg: ['sendmsg', 'recvmsg'],
  sendmmsg: ['sendmmsg', 'recvmmsg'],
  sendfile: ['sendfile', 'read', 'write'],
  splice: ['splice'],
};
const UDP_MODES: Record<string, string[]> = {
  sendto: ['sendto', 'recvfrom'],
  sendmsg: ['sendmsg', 'recvmsg'],
  sendmmsg: ['sendmmsg', 'recvmmsg'],
  write: ['write', 'read', 'sendto', 'recvfrom'], // connected client: write/read; the server answers with sendto
};

interface Place { label: string; client?: Netns; server?: Netns; clientIp: string; serverIp: string; family: 4 | 6 }

describe('socket capture: flows match what the peers moved', { skip }, () => {
  let cap: SockCapture;
  let pair: NetnsPair;
  let hostNetns: number;
  let places: Place[];
  let n = 0;

  before(() => {
    sockPeerBinary();
    pair = createNetnsPair();
    hostNetns = statSync('/proc/self/ns/net').ino;
    cap = new SockCapture();
    places = [
      { label: 'loopback IPv4', clientIp: '127.0.0.1', serverIp: '127.0.0.1', family: 4 },
      { label: 'loopback IPv6', clientIp: '::1', serverIp: '::1', family: 6 },
      { label: 'veth IPv4', client: pair.a, server: pair.b, clientIp: pair.a.ip4, serverIp: pair.b.ip4, family: 4 },
      { label: 'veth IPv6', client: pair.a, server: pair.b, clientIp: pair.a.ip6, serverIp: pair.b.ip6, family: 6 },
    ];
  });
  after(() => {
    cap?.close();
    pair?.destroy();
  });

  async function exchange(proto: 'tcp' | 'udp', mode: string, p: Place, families: string[], bindClient = true): Promise<void> {
    n++;
    const sent = 3000 + 37 * n; // distinct sizes: a mixed-up flow cannot pass by accident
    const reply = 1000 + 11 * n;
    const acceptCall = n % 2 ? 'accept4' : 'accept';
    const srv = await startServer(p.server, [proto, p.serverIp, '0', mode, String(sent), String(reply), acceptCall]);
    const cli = await runPeer(p.client, ['client', proto, p.serverIp, String(srv.port), mode, String(sent), String(reply)],
      { PEER_BIND: proto === 'udp' && bindClient ? p.clientIp : '' });
    const srvReport = await srv.done;
    assert.equal(cli.sent, sent);
    assert.equal(srvReport.received, sent);

    const client = { ip: p.clientIp, port: cli.lport };
    const server = { ip: p.serverIp, port: srv.port };
    const flow = await cap.waitFor(() => {
      const f = cap.findFlow(proto, client, server);
      return f && f.bytesClientToServer === sent && f.bytesServerToClient === reply && f.clientProc && f.serverProc &&
        (proto === 'udp' || f.closedNs !== undefined) ? f : undefined;
    });
    const seen = cap.findFlow(proto, client, server);
    assert.ok(flow, `no complete ${proto} flow ${client.ip}:${client.port} -> ${server.ip}:${server.port}; ` +
      `got ${JSON.stringify(seen, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    assert.deepEqual(flow.client, client);
    assert.deepEqual(flow.server, server);
    assert.equal(flow.proto, proto);
    assert.equal(flow.bytesClientToServer, sent);
    assert.equal(flow.bytesServerToClient, reply);
    assert.equal(flow.clientProc?.pid, cli.pid);
    assert.equal(flow.clientProc?.comm, 'sock-peer');
    assert.equal(flow.serverProc?.pid, srvReport.pid);
    assert.equal(flow.serverProc?.comm, 'sock-peer');
    assert.equal(flow.clientNetns, p.client?.inode ?? hostNetns);
    assert.equal(flow.serverNetns, p.server?.inode ?? hostNetns);
    for (const f of families) assert.ok(flow.syscalls?.includes(f), `${f} missing from ${flow.syscalls}`);
    if (proto === 'tcp') {
      for (const f of ['connect', acceptCall, 'close']) assert.ok(flow.syscalls?.includes(f), `${f} missing from ${flow.syscalls}`);
      assert.ok(flow.closedNs! >= flow.firstSeenNs);
    }
    // payload: the first send record of the client carries the first bytes it sent (not for sendfile)
    if (mode !== 'sendfile' && mode !== 'splice') { // those move file/pipe pages: no payload copy
      const first = cap.eventsOf(cli.pid).find((e) => e.kind === 'data' && e.dir === 'send');
      assert.ok(first, 'no send record for the client');
      assert.ok(first.payload.length > 0 && first.payload.length <= 512);
      // *mmsg: bytes count every message, the payload comes from the first message only
      if (mode === 'sendmmsg') assert.ok(first.payload.length <= Math.min(first.bytes, 512));
      else assert.equal(first.payload.length, Math.min(first.bytes, 512));
      assert.ok(first.payload.every((b) => b === 0x78), 'payload is not what the client sent');
    }
  }

  for (const placeIdx of [0, 1, 2, 3]) {
    for (const [mode, families] of Object.entries(TCP_MODES)) {
      test(`tcp ${mode} [place ${placeIdx}]`, async (t) => {
        const p = places[placeIdx];
        t.diagnostic(p.label);
        await exchange('tcp', mode, p, families);
      });
    }
    for (const [mode, families] of Object.entries(UDP_MODES)) {
      test(`udp ${mode} [place ${placeIdx}]`, async (t) => {
        const p = places[placeIdx];
        t.diagnostic(p.label);
        await exchange('udp', mode, p, families);
      });
    }
  }

  for (const placeIdx of [0, 3]) {
    test(`udp sendto and sendmsg from an unbound client (no local address) [place ${placeIdx}]`, async (t) => {
      t.diagnostic(places[placeIdx].label);
      await exchange('udp', 'sendto', places[placeIdx], UDP_MODES.sendto, false);
      await exchange('udp', 'sendmsg', places[placeIdx], UDP_MODES.sendmsg, false);
    });
  }

  test('file and pipe I/O produce no records', async () => {
    const r = await runPeer<{ pid: number }>(undefined, ['fileio', `/tmp/fl-sock-fileio-${process.pid}`]);
    // a socket exchange afterwards proves the capture was live during the file I/O
    await exchange('tcp', 'write', places[0], ['write', 'read']);
    assert.deepEqual(cap.eventsOf(r.pid), []);
  });

  test('a server that closes after the client did (its socket already TCP_CLOSE, bind released) still closes the flow', async () => {
    // The order HTTP/1.0 servers often see: server FIN, client FIN, then the server's close(). By then the
    // kernel has moved the connection to TIME_WAIT and zeroed the socket's bound port (skc_num).
    const py = [
      'import socket,os,threading,time',
      'srv=socket.socket(); srv.bind(("127.0.0.1",0)); srv.listen(1); port=srv.getsockname()[1]',
      'def serve():',
      '  c,_=srv.accept(); c.recv(100); c.sendall(b"r"*70); c.shutdown(socket.SHUT_WR)',
      '  while c.recv(100): pass', // EOF: the client has closed
      '  time.sleep(0.1); c.close()',
      't=threading.Thread(target=serve); t.start()',
      'cl=socket.create_connection(("127.0.0.1",port)); lport=cl.getsockname()[1]; cl.sendall(b"q"*30)',
      'while cl.recv(100): pass',
      'cl.close(); t.join(); print(port, lport, flush=True)',
    ].join('\n');
    const [port, lport] = execFileSync('python3', ['-c', py], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    const client = { ip: '127.0.0.1', port: lport! };
    const server = { ip: '127.0.0.1', port: port! };
    const flow = await cap.waitFor(() => {
      const f = cap.findFlow('tcp', client, server);
      return f?.closedNs !== undefined ? f : undefined;
    });
    const seen = cap.findFlow('tcp', client, server);
    assert.ok(flow, `flow not closed: ${JSON.stringify(seen, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    assert.equal(flow.bytesClientToServer, 30);
    assert.equal(flow.bytesServerToClient, 70);
  });

  test('connect to a closed port counts ECONNREFUSED on the flow (blocking and non-blocking)', async () => {
    const probe = await startServer(undefined, ['tcp', '127.0.0.1', '0', 'write', '0', '0']);
    const port = probe.port;
    await runPeer(undefined, ['client', 'tcp', '127.0.0.1', String(port), 'write', '0', '0']);
    await probe.done; // the port is closed now
    const r = await runPeer<{ pid: number; ret: number; errno: number }>(undefined, ['refused', '127.0.0.1', String(port)]);
    assert.equal(r.errno, 111);
    const flow = await cap.waitFor(() => cap.table.flows().find((f) => f.server.port === port && f.errors.ECONNREFUSED &&
      f.clientProc?.pid === r.pid));
    assert.ok(flow, 'no flow with ECONNREFUSED for the refused connect');
    assert.equal(flow.server.ip, '127.0.0.1');
    assert.equal(flow.clientProc?.comm, 'sock-peer');
    const ev = cap.eventsOf(r.pid).find((e) => e.kind === 'connect');
    assert.equal(ev?.errno, 'ECONNREFUSED');

    // non-blocking: connect() says EINPROGRESS, the refusal arrives from the handshake
    const py = 'import socket,select,os\ns=socket.socket(); s.setblocking(False)\n' +
      `print(os.getpid(), s.connect_ex(("127.0.0.1", ${port})), flush=True)\nselect.select([],[s],[],2)\n` +
      'print(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))';
    const [pyPid, connectRet] = execFileSync('python3', ['-c', py], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    assert.equal(connectRet, 115); // EINPROGRESS
    const nb = await cap.waitFor(() => cap.table.flows().find((f) => f.clientProc?.pid === pyPid && f.errors.ECONNREFUSED));
    assert.ok(nb, 'no ECONNREFUSED flow for the non-blocking connect');
    assert.equal(nb.server.port, port);
  });
});
