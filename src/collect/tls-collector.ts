// TLS plaintext collector: loads bpf/tls.bpf.o, attaches uprobes to SSL_write/SSL_read (+_ex) in the
// system's OpenSSL (libssl.so.3, found with `ldconfig -p`) and the per-thread fd tracepoints, and hands
// decoded plaintext records to a callback. Every process that maps that libssl is covered (uprobes are
// on the file); statically linked or other TLS libraries are not.
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, RingBuffer, TRACEFS, fieldOffsets, readCString, type Link, type RecordBatch, type StructLayout } from '../kernel/index.js';
import { requireRoot } from './sock-collector.js';

export interface TlsEvent {
  tsNs: bigint; // return of the SSL call (CLOCK_MONOTONIC)
  startNs: bigint; // entry of the SSL call
  ssl: bigint;
  cgroupId: bigint;
  pid: number;
  tid: number;
  fd: number; // -1 when unknown
  fdSource: 'none' | 'syscall' | 'cached';
  bytes: number;
  dir: 'send' | 'recv';
  comm: string;
  payload: Buffer; // a copy
}

export interface TlsCollectorOptions {
  objectPath?: string;
  /** Libraries to probe (default: libssl.so.3 from ldconfig, else the usual paths). */
  libraries?: string[];
  payloadBytes?: number; // default 1024, max 4096
  filterPid?: number;
  ignoreSelf?: boolean; // default true
  onEvent: (ev: TlsEvent) => void;
  onWarning?: (m: string) => void;
}

const REPO_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const TLS_OBJECT = [join(REPO_ROOT, 'bpf', '.output', 'tls.bpf.o'), join(REPO_ROOT, '..', 'bpf', '.output', 'tls.bpf.o')]
  .find((p) => existsSync(p)) ?? join(REPO_ROOT, 'bpf', '.output', 'tls.bpf.o');

const SYMBOLS: [program: string, symbol: string][] = [
  ['tls_enter_write', 'SSL_write'],
  ['tls_enter_read', 'SSL_read'],
  ['tls_enter_write_ex', 'SSL_write_ex'],
  ['tls_enter_read_ex', 'SSL_read_ex'],
];
const FD_SYSCALLS = ['read', 'write', 'readv', 'writev', 'recvfrom', 'sendto', 'recvmsg', 'sendmsg'];
const STAT_COUNT = 4;

/** libssl.so.3 as the dynamic linker would find it. */
export function findLibssl(): string[] {
  const found = new Set<string>();
  try {
    const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of out.split('\n')) {
      const m = /^\s*libssl\.so\.3 \(([^)]*)\) => (\S+)/.exec(line);
      if (m && /x86-64|64bit|AArch64/i.test(m[1]!) === (process.arch === 'x64' || process.arch === 'arm64')) found.add(realpathSync(m[2]!));
    }
  } catch { /* no ldconfig: try the usual places */ }
  if (found.size === 0) {
    for (const p of ['/lib/x86_64-linux-gnu/libssl.so.3', '/usr/lib/x86_64-linux-gnu/libssl.so.3', '/lib/aarch64-linux-gnu/libssl.so.3', '/usr/lib64/libssl.so.3', '/usr/lib/libssl.so.3']) {
      if (existsSync(p)) found.add(realpathSync(p));
    }
  }
  return [...found];
}

const FIELDS = ['ts_ns', 'start_ns', 'ssl', 'cgroup_id', 'pid', 'tid', 'fd', 'bytes', 'payload_len', 'dir', 'fd_source', 'comm'] as const;

export class TlsDecoder {
  private readonly o: Record<(typeof FIELDS)[number], number>;
  constructor(readonly layout: StructLayout) {
    this.o = fieldOffsets(layout, FIELDS);
  }
  decode(buf: Buffer, off: number, len: number): TlsEvent | undefined {
    const o = this.o;
    if (len < this.layout.size) return undefined;
    const plen = Math.min(buf.readUInt32LE(off + o.payload_len), len - this.layout.size);
    const src = buf[off + o.fd_source];
    return {
      tsNs: buf.readBigUInt64LE(off + o.ts_ns),
      startNs: buf.readBigUInt64LE(off + o.start_ns),
      ssl: buf.readBigUInt64LE(off + o.ssl),
      cgroupId: buf.readBigUInt64LE(off + o.cgroup_id),
      pid: buf.readUInt32LE(off + o.pid),
      tid: buf.readUInt32LE(off + o.tid),
      fd: buf.readInt32LE(off + o.fd),
      fdSource: src === 1 ? 'syscall' : src === 2 ? 'cached' : 'none',
      bytes: buf.readUInt32LE(off + o.bytes),
      dir: buf[off + o.dir] === 1 ? 'send' : 'recv',
      comm: readCString(buf, off + o.comm, 16),
      payload: Buffer.from(buf.subarray(off + this.layout.size, off + this.layout.size + plen)),
    };
  }
}

export class TlsCollector {
  private readonly obj: BpfObject;
  private readonly ring: RingBuffer;
  private readonly links: Link[] = [];
  private readonly decoder: TlsDecoder;
  readonly libraries: string[];
  private closed = false;
  private delivered = 0;

  private constructor(private readonly opts: TlsCollectorOptions) {
    requireRoot('TLS plaintext capture');
    const path = opts.objectPath ?? TLS_OBJECT;
    if (!existsSync(path)) throw new Error(`TLS probe object ${path} is missing: build it with \`make -C bpf\``);
    const libs = opts.libraries ?? findLibssl();
    if (libs.length === 0) throw new Error('no libssl.so.3 found (ldconfig -p): HTTPS of OpenSSL users cannot be decoded');
    this.libraries = libs;
    const payload = opts.payloadBytes ?? 1024;
    if (!Number.isInteger(payload) || payload < 0 || payload > 4096) throw new Error(`payloadBytes must be 0..4096, got ${payload}`);
    this.obj = BpfObject.open(path);
    try {
      this.obj.load();
      this.decoder = new TlsDecoder(this.obj.structLayout('tls_event'));
      this.writeConfig(payload);
      this.ring = new RingBuffer(this.obj.map('tls_events'), (b) => this.onRing(b), {
        dropCounter: { map: this.obj.map('tls_stats'), index: 1 },
      });
      this.attach();
    } catch (err) {
      for (const l of this.links) l.detach();
      this.obj.close();
      throw err;
    }
  }

  static start(opts: TlsCollectorOptions): TlsCollector {
    return new TlsCollector(opts);
  }

  private writeConfig(payload: number): void {
    const cfg = this.obj.structLayout('tls_config');
    const v = Buffer.alloc(cfg.size);
    const o = fieldOffsets(cfg, ['self_pid', 'payload_max', 'filter_pid', 'configured'] as const);
    v.writeUInt32LE(this.opts.ignoreSelf === false ? 0 : process.pid, o.self_pid);
    v.writeUInt32LE(payload, o.payload_max);
    v.writeUInt32LE(this.opts.filterPid ?? 0, o.filter_pid);
    v.writeUInt32LE(1, o.configured);
    this.obj.map('tls_config').update(Buffer.alloc(4), v);
  }

  private attach(): void {
    const warn = this.opts.onWarning ?? ((m: string) => console.warn(`faultlens: ${m}`));
    for (const sc of FD_SYSCALLS) {
      if (!existsSync(join(TRACEFS, 'events', 'syscalls', `sys_enter_${sc}`))) {
        warn(`tracepoint syscalls/sys_enter_${sc} missing: TLS calls that only use ${sc} are not joined to their socket`);
        continue;
      }
      this.links.push(this.obj.program(`tls_fd_${sc}`).attachTracepoint('syscalls', `sys_enter_${sc}`));
    }
    let probes = 0;
    for (const lib of this.libraries) {
      for (const [prog, symbol] of SYMBOLS) {
        try {
          this.links.push(this.obj.program(prog).attachUprobe({ binary: lib, symbol }));
          this.links.push(this.obj.program('tls_exit').attachUprobe({ binary: lib, symbol, retprobe: true }));
          probes++;
        } catch (err) {
          warn(`${symbol} in ${lib} not probed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    if (probes === 0) throw new Error(`no OpenSSL function could be probed in ${this.libraries.join(', ')}`);
  }

  private onRing(b: RecordBatch): void {
    for (let i = 0; i < b.count; i++) {
      const ev = this.decoder.decode(b.buf, b.offsets[i]!, b.lengths[i]!);
      if (!ev) continue;
      this.delivered++;
      this.opts.onEvent(ev);
    }
  }

  drain(): number {
    return this.closed ? 0 : this.ring.consume();
  }

  stats(): { records: bigint; drops: bigint; noFd: bigint; delivered: number; probes: number; libraries: string[] } {
    const c: bigint[] = [];
    if (!this.closed) {
      const map = this.obj.map('tls_stats');
      const key = Buffer.alloc(4);
      for (let i = 0; i < STAT_COUNT; i++) {
        key.writeUInt32LE(i, 0);
        const v = map.lookup(key);
        c.push(v ? map.sumPerCpuU64(v, 0) : 0n);
      }
    }
    return { records: c[0] ?? 0n, drops: c[1] ?? 0n, noFd: c[2] ?? 0n, delivered: this.delivered, probes: this.links.length, libraries: this.libraries };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.obj.close(); // closes links and the ring buffer with the object
  }
}
