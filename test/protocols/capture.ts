// Test helper: loopback proxies that record both directions of real client<->server traffic as chunks,
// plus conversion to what the kernel capture would hand the parsers (heads of N bytes + totalLen).
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { Chunk } from '../../src/protocols/types.js';

/** One read as the proxy saw it; `dir` is from the client's point of view. */
export interface Captured {
  dir: 'send' | 'recv';
  tsNs: bigint;
  bytes: Buffer;
}

export interface TcpCapture {
  port: number;
  /** One entry per accepted connection, in accept order. */
  connections: Captured[][];
  close(): Promise<void>;
}

const now = () => process.hrtime.bigint();

/** A TCP proxy on 127.0.0.1 (random port) forwarding to targetPort and recording each read. */
export async function startTcpCapture(targetPort: number): Promise<TcpCapture> {
  const connections: Captured[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const rec: Captured[] = [];
    connections.push(rec);
    client.pause(); // hold client bytes until upstream is connected
    const upstream = net.connect(targetPort, '127.0.0.1', () => client.resume());
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d) => {
      rec.push({ dir: 'send', tsNs: now(), bytes: Buffer.from(d) });
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      rec.push({ dir: 'recv', tsNs: now(), bytes: Buffer.from(d) });
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

export interface UdpCapture {
  port: number;
  datagrams: Captured[];
  close(): Promise<void>;
}

/** A UDP relay on 127.0.0.1: datagrams from one client go to targetPort, replies come back. */
export async function startUdpCapture(targetPort: number): Promise<UdpCapture> {
  const datagrams: Captured[] = [];
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: { address: string; port: number } | null = null;
  front.on('message', (msg, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    datagrams.push({ dir: 'send', tsNs: now(), bytes: Buffer.from(msg) });
    back.send(msg, targetPort, '127.0.0.1');
  });
  back.on('message', (msg) => {
    datagrams.push({ dir: 'recv', tsNs: now(), bytes: Buffer.from(msg) });
    if (client) front.send(msg, client.port, client.address);
  });
  await new Promise<void>((res) => front.bind(0, '127.0.0.1', () => res()));
  await new Promise<void>((res) => back.bind(0, '127.0.0.1', () => res()));
  return {
    port: front.address().port,
    datagrams,
    close: async () => {
      front.close();
      back.close();
    },
  };
}

/** Turns captured reads into parser input as the kernel would deliver it: only `head` bytes kept. */
export function toChunks(cap: Captured[], head = Infinity, perspective: 'client' | 'server' = 'client'): Chunk[] {
  return cap.map((c) => ({
    dir: perspective === 'client' ? c.dir : c.dir === 'send' ? 'recv' : 'send',
    role: perspective,
    tsNs: c.tsNs,
    bytes: new Uint8Array(c.bytes.buffer, c.bytes.byteOffset, Math.min(c.bytes.length, head)),
    totalLen: c.bytes.length,
  }));
}

/** Splits every read into pieces of at most `n` bytes (as a server writing in small syscalls would). */
export function resplit(cap: Captured[], n: number): Captured[] {
  const out: Captured[] = [];
  for (const c of cap) {
    for (let i = 0; i < c.bytes.length; i += n) out.push({ dir: c.dir, tsNs: c.tsNs, bytes: c.bytes.subarray(i, i + n) });
  }
  return out;
}

interface FixtureFile {
  description: string;
  source: string;
  chunks: { dir: 'send' | 'recv'; tsNs: string; b64: string }[];
}

export function saveFixture(path: string, description: string, source: string, cap: Captured[]): void {
  const f: FixtureFile = {
    description,
    source,
    chunks: cap.map((c) => ({ dir: c.dir, tsNs: c.tsNs.toString(), b64: c.bytes.toString('base64') })),
  };
  writeFileSync(path, JSON.stringify(f, null, 1) + '\n');
}

export function loadFixture(path: string): Captured[] {
  const f = JSON.parse(readFileSync(path, 'utf8')) as FixtureFile;
  return f.chunks.map((c) => ({ dir: c.dir, tsNs: BigInt(c.tsNs), bytes: Buffer.from(c.b64, 'base64') }));
}
