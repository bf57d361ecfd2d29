// DNS over UDP (one datagram per chunk) and over TCP (2-byte length prefix). Queries and responses are
// paired by message id (plus query name), not FIFO: a resolver socket can have many in flight.
import { u16be } from './bytes.js';
import type { Emit, ProtocolSession, SessionCounters, SessionOptions } from './session.js';
import { INVALID, NEED_MORE, StreamDecoder } from './stream.js';
import type { Chunk, DnsRecord } from './types.js';

export const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const QTYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR',
  41: 'OPT', 43: 'DS', 46: 'RRSIG', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};
const OPCODES = ['QUERY', 'IQUERY', 'STATUS', 'OPCODE3', 'NOTIFY', 'UPDATE'];

export interface DnsMessage {
  id: number;
  response: boolean;
  opcode: number;
  rcode: number;
  qdcount: number;
  ancount: number;
  qname: string;
  qtype: number;
  addresses: string[];
  truncated: boolean; // the captured head ended before the message did
}

/** Reads a (possibly compressed) name at b[i]; returns [name, next index] or null when malformed. */
function readName(b: Uint8Array, msg: number, i: number, end: number): [string, number] | null {
  let name = '';
  let next = -1;
  let hops = 0;
  for (;;) {
    if (i >= end) return null;
    const l = b[i];
    if (l === 0) {
      i++;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (i + 1 >= end || ++hops > 16) return null;
      if (next < 0) next = i + 2;
      i = msg + (((l & 0x3f) << 8) | b[i + 1]);
      continue;
    }
    if (l > 63 || i + 1 + l > end) return null;
    for (let k = i + 1; k <= i + l; k++) {
      const c = b[k];
      // letters, digits, '-', '_', '*' (wildcards) and a few printable others seen in the wild
      if (c < 33 || c > 126) return null;
    }
    // labels are short: a plain loop beats subarray + apply (this is the hot spot of DNS parsing)
    if (name) name += '.';
    for (let k = i + 1; k <= i + l; k++) name += String.fromCharCode(b[k]);
    if (name.length > 255) return null;
    i += 1 + l;
  }
  return [name.toLowerCase(), next >= 0 ? next : i];
}

/** Parses the DNS message in b[off, end) (its real size is `size`, which may exceed the head). */
export function parseDns(b: Uint8Array, off: number, end: number, size: number): DnsMessage | null {
  if (end - off < 12 || size < 12 || size > 65535) return null;
  const flags = u16be(b, off + 2);
  const response = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  const rcode = flags & 0xf;
  const qdcount = u16be(b, off + 4);
  const ancount = u16be(b, off + 6);
  const nscount = u16be(b, off + 8);
  const arcount = u16be(b, off + 10);
  if (opcode > 5 || qdcount > 4 || ancount > 512 || nscount > 512 || arcount > 512) return null;
  if ((flags & 0x0040) !== 0) return null; // Z bit must be zero
  if (!response && (rcode !== 0 || ancount > 0)) return null;
  if (qdcount === 0 && opcode === 0) return null;
  const msgEnd = Math.min(end, off + size);
  const m: DnsMessage = { id: u16be(b, off), response, opcode, rcode, qdcount, ancount, qname: '', qtype: 0, addresses: [], truncated: msgEnd < off + size };
  let i = off + 12;
  for (let q = 0; q < qdcount; q++) {
    const r = readName(b, off, i, msgEnd);
    if (!r) {
      if (m.truncated && q === 0 && i < msgEnd) return m.qname ? m : null;
      return null;
    }
    if (r[1] + 4 > msgEnd) {
      if (!m.truncated) return null;
      m.qname = r[0];
      return m;
    }
    const qclass = u16be(b, r[1] + 2);
    if (qclass !== 1 && qclass !== 3 && qclass !== 255 && qclass !== 254) return null;
    if (q === 0) {
      m.qname = r[0];
      m.qtype = u16be(b, r[1]);
    }
    i = r[1] + 4;
  }
  for (let a = 0; a < ancount && i < msgEnd; a++) {
    const r = readName(b, off, i, msgEnd);
    if (!r || r[1] + 10 > msgEnd) break;
    const type = u16be(b, r[1]);
    const rdlen = u16be(b, r[1] + 8);
    const rd = r[1] + 10;
    if (rd + rdlen > msgEnd) break;
    if (type === 1 && rdlen === 4) m.addresses.push(`${b[rd]}.${b[rd + 1]}.${b[rd + 2]}.${b[rd + 3]}`);
    else if (type === 28 && rdlen === 16) m.addresses.push(ipv6(b, rd));
    i = rd + rdlen;
  }
  return m;
}

function ipv6(b: Uint8Array, at: number): string {
  const parts: string[] = [];
  for (let k = 0; k < 16; k += 2) parts.push(((b[at + k] << 8) | b[at + k + 1]).toString(16));
  // compress the longest zero run
  const s = parts.join(':');
  const runs = s.match(/(^|:)0(:0)+(:|$)/g);
  if (!runs) return s;
  const longest = runs.reduce((x, y) => (y.length > x.length ? y : x));
  return s.replace(longest, '::');
}

/** Plausible DNS over TCP: 2-byte length then a DNS header. */
export function isDnsTcp(b: Uint8Array, totalLen: number): boolean {
  if (b.length < 14) return false;
  const len = u16be(b, 0);
  return len >= 12 && len + 2 <= totalLen && parseDns(b, 2, b.length, len) !== null;
}

export function isDnsUdp(b: Uint8Array, totalLen: number): boolean {
  return parseDns(b, 0, b.length, totalLen) !== null;
}

class DnsTcpDecoder extends StreamDecoder {
  constructor(private readonly s: DnsSession) {
    super();
  }
  protected canStart(b: Uint8Array, totalLen: number): boolean {
    return isDnsTcp(b, totalLen);
  }
  protected onLost(): void {}
  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    if (end - off < 2) return NEED_MORE;
    const len = u16be(b, off);
    if (len < 12) return INVALID;
    if (end - off < 2 + Math.min(len, 512) && !final) return NEED_MORE;
    const m = parseDns(b, off + 2, end, len);
    if (!m) return INVALID;
    this.s.message(m, 'tcp', this.ts, 2 + len);
    return 2 + len;
  }
}

interface PendingQuery {
  m: DnsMessage;
  startNs: bigint;
  bytes: number;
  transport: 'udp' | 'tcp';
}

export class DnsSession implements ProtocolSession {
  private readonly tcpReq = new DnsTcpDecoder(this);
  private readonly tcpResp = new DnsTcpDecoder(this);
  private readonly pending = new Map<number, PendingQuery>();
  private transport: 'udp' | 'tcp' | null = null;
  private parseErrors = 0;
  private exceptions = 0;
  private skipped = 0;
  private orphans = 0;

  constructor(
    private readonly emit: Emit,
    private readonly opts: SessionOptions = {},
  ) {}

  push(c: Chunk, isRequest: boolean): void {
    if (this.transport === null) {
      if (isDnsTcp(c.bytes, c.totalLen) && !isDnsUdp(c.bytes, c.totalLen)) this.transport = 'tcp';
      else if (isDnsUdp(c.bytes, c.totalLen)) this.transport = 'udp';
      else {
        this.skipped++;
        return;
      }
    }
    if (this.transport === 'tcp') {
      (isRequest ? this.tcpReq : this.tcpResp).feed(c.bytes, c.totalLen, c.tsNs);
      return;
    }
    let m: DnsMessage | null = null;
    try {
      m = parseDns(c.bytes, 0, c.bytes.length, c.totalLen);
    } catch {
      this.exceptions++;
    }
    if (!m) {
      this.parseErrors++;
      return;
    }
    this.message(m, 'udp', c.tsNs, c.totalLen);
  }

  message(m: DnsMessage, transport: 'udp' | 'tcp', ts: bigint, size: number): void {
    if (!m.response) {
      if (this.pending.size >= (this.opts.maxPending ?? 1024)) {
        const [k, old] = this.pending.entries().next().value as [number, PendingQuery];
        this.pending.delete(k);
        this.finish(old, null, old.startNs, 0);
      }
      const prev = this.pending.get(m.id);
      if (prev) this.finish(prev, null, prev.startNs, 0); // id reused: the older one got no answer
      this.pending.set(m.id, { m, startNs: ts, bytes: size, transport });
      return;
    }
    const q = this.pending.get(m.id);
    if (!q || (m.qname && q.m.qname && m.qname !== q.m.qname)) {
      this.orphans++;
      return;
    }
    this.pending.delete(m.id);
    this.finish(q, m, ts, size);
  }

  close(): void {
    for (const q of this.pending.values()) this.finish(q, null, q.startNs, 0);
    this.pending.clear();
  }

  counters(): SessionCounters {
    return {
      parseErrors: this.parseErrors + this.tcpReq.parseErrors + this.tcpResp.parseErrors,
      exceptions: this.exceptions + this.tcpReq.exceptions + this.tcpResp.exceptions,
      resyncs: this.tcpReq.resyncs + this.tcpResp.resyncs,
      skippedChunks: this.skipped + this.tcpReq.skippedChunks + this.tcpResp.skippedChunks,
      orphanResponses: this.orphans,
    };
  }

  private finish(q: PendingQuery, r: DnsMessage | null, endNs: bigint, respBytes: number): void {
    const rec: DnsRecord = {
      protocol: 'dns',
      startNs: q.startNs,
      endNs: endNs < q.startNs ? q.startNs : endNs,
      method: OPCODES[q.m.opcode] ?? 'QUERY',
      target: q.m.qname,
      status: r ? RCODES[r.rcode] ?? `RCODE${r.rcode}` : '',
      error: !!r && r.rcode !== 0,
      reqBytes: q.bytes,
      respBytes,
      transport: q.transport,
      id: q.m.id,
      qtype: QTYPES[q.m.qtype] ?? String(q.m.qtype),
      rcode: r ? r.rcode : -1,
      answers: r ? r.ancount : 0,
      addresses: r ? r.addresses : [],
    };
    if (r && r.rcode !== 0) rec.errorText = rec.status;
    if (!r) rec.incomplete = true;
    if (q.m.truncated || r?.truncated) rec.truncated = true;
    this.emit(rec);
  }
}
