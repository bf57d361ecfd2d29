// DNS parser against dnsmasq: node's resolver (c-ares) over UDP, and length-prefixed queries over TCP.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { saveFixture, startTcpCapture, startUdpCapture, toChunks, type TcpCapture, type UdpCapture } from './capture.js';
import { parseAll } from './parse-helpers.js';
import { startDnsmasq, type RunningServer } from './servers.js';
import type { DnsRecord } from '../../src/protocols/types.js';

const FIXTURES = new URL('../fixtures/protocols/', import.meta.url).pathname;
const SAVE = process.env.FL_SAVE_FIXTURES === '1';

let dns: RunningServer | null = null;
let udp: UdpCapture;
let tcp: TcpCapture;

function query(id: number, name: string, qtype: number): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2); // RD
  h.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([h, ...labels, Buffer.from([0]), tail]);
}

describe('dns against dnsmasq', { timeout: 30000 }, () => {
  before(async () => {
    dns = await startDnsmasq();
    if (dns) {
      udp = await startUdpCapture(dns.port);
      tcp = await startTcpCapture(dns.port);
    }
  });
  after(async () => {
    await udp?.close();
    await tcp?.close();
    await dns?.stop();
  });

  it('UDP: A, AAAA and NXDOMAIN answers paired by id', async (t) => {
    if (!dns) return t.skip('dnsmasq not installed (apt-get install dnsmasq-base)');
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${udp.port}`]);
    const a = await r.resolve4('example.test');
    const aaaa = await r.resolve6('www.example.test');
    const nx = await r.resolve4('nope.test').then(
      () => 'found',
      (e: NodeJS.ErrnoException) => e.code,
    );
    assert.deepEqual(a, ['10.1.2.3']);
    assert.equal(nx, 'ENOTFOUND');
    if (SAVE) saveFixture(`${FIXTURES}dns-udp-dnsmasq.json`, 'c-ares resolve4/resolve6/NXDOMAIN via dnsmasq', 'dnsmasq-base', udp.datagrams);
    for (const head of [Infinity, 40]) {
      const { records, protocol } = parseAll(toChunks(udp.datagrams, head));
      assert.equal(protocol, 'dns');
      const d = records as DnsRecord[];
      assert.deepEqual(
        d.map((x) => `${x.target} ${x.qtype} ${x.status}`),
        ['example.test A NOERROR', 'www.example.test AAAA NOERROR', 'nope.test A NXDOMAIN'],
        `head=${head}`,
      );
      if (head === Infinity) {
        assert.deepEqual(d[0].addresses, a);
        assert.deepEqual(d[1].addresses, aaaa);
        assert.equal(d[2].error, true);
        assert.ok(d.every((x) => x.transport === 'udp' && x.endNs >= x.startNs));
      }
    }
  });

  it('TCP: length-prefixed queries, two in one write', async (t) => {
    if (!dns) return t.skip('dnsmasq not installed (apt-get install dnsmasq-base)');
    const frame = (q: Buffer) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q]);
    await new Promise<void>((res, rej) => {
      const s = net.connect(tcp.port, '127.0.0.1', () => s.write(Buffer.concat([frame(query(0x1234, 'example.test', 1)), frame(query(0x4321, 'missing.test', 1))])));
      let got = Buffer.alloc(0);
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        let n = 0;
        for (let i = 0; i + 2 <= got.length; i += 2 + got.readUInt16BE(i)) n++;
        if (n >= 2 && got.length >= 2 + got.readUInt16BE(0)) s.end();
      });
      s.on('close', () => res());
      s.on('error', rej);
    });
    const conn = tcp.connections[tcp.connections.length - 1];
    if (SAVE) saveFixture(`${FIXTURES}dns-tcp-dnsmasq.json`, 'two DNS-over-TCP queries in one write to dnsmasq', 'dnsmasq-base', conn);
    const { records } = parseAll(toChunks(conn));
    const d = records as DnsRecord[];
    assert.deepEqual(
      d.map((x) => `${x.id} ${x.target} ${x.status} ${x.transport}`).sort(),
      ['17185 missing.test NXDOMAIN tcp', '4660 example.test NOERROR tcp'],
    );
    assert.deepEqual(d.find((x) => x.id === 0x1234)!.addresses, ['10.1.2.3']);
  });
});
