// Ring buffer consumer: records arrive as batches from the libuv loop (one JS call per wake-up).
import { native, type Handle } from './native.js';
import { BpfError, call } from './errors.js';
import type { BpfMap } from './map.js';
import type { ObjectOwner } from './owner.js';

/** A batch of records: record i is buf.subarray(offsets[i], offsets[i] + lengths[i]) (offsets 8-byte aligned). */
export interface RecordBatch {
  buf: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
  count: number;
}

export interface RingBufferOptions {
  /** Stop a wake-up's batch at about this many bytes (the rest follows next loop turn). Default 4 MiB. */
  maxBatchBytes?: number;
  /** Where the BPF side counts records it could not reserve: a u64 (summed over CPUs for per-CPU maps). */
  dropCounter?: { map: BpfMap; index?: number; byteOffset?: number };
  /** false: an open ring buffer does not keep the process alive. Default true. */
  keepAlive?: boolean;
}

/** Implemented by BpfMap's owner: lets a ring buffer find its object and unregister on close. */
export interface RingBufferHost extends ObjectOwner {
  forgetRingBuffer(rb: RingBuffer): void;
  rememberRingBuffer(rb: RingBuffer): void;
}

export class RingBuffer {
  readonly map: BpfMap;
  private handle: Handle | undefined;
  private readonly host: RingBufferHost;
  private readonly dropCounter?: RingBufferOptions['dropCounter'];

  constructor(map: BpfMap, onBatch: (b: RecordBatch) => void, opts: RingBufferOptions = {}) {
    if (map.type !== 27) throw new BpfError(`map '${map.name}' is a ${map.typeName} map, not a ringbuf`);
    this.map = map;
    this.host = map.owner as RingBufferHost;
    this.dropCounter = opts.dropCounter;
    const deliver = (buf: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number) =>
      onBatch({ buf, offsets, lengths, count });
    this.handle = call(() => native().ringbufOpen(this.host.handle(), map.name, deliver, opts.maxBatchBytes ?? null));
    if (opts.keepAlive === false) native().ringbufRef(this.handle, false);
    this.host.rememberRingBuffer(this);
  }

  /** Drains whatever is available now, synchronously (onBatch runs before this returns). */
  consume(): number {
    if (!this.handle) return 0;
    return call(() => native().ringbufConsume(this.handle!));
  }

  /** Batches and records delivered so far. */
  stats(): { batches: number; records: number } {
    if (!this.handle) return { batches: 0, records: 0 };
    return native().ringbufStats(this.handle);
  }

  /** Records the BPF side dropped (ring full), when a drop counter was given; else undefined. */
  dropped(): bigint | undefined {
    const dc = this.dropCounter;
    if (!dc) return undefined;
    const key = Buffer.alloc(dc.map.keySize);
    key.writeUInt32LE(dc.index ?? 0, 0);
    const v = dc.map.lookup(key);
    if (!v) return 0n;
    return dc.map.perCpu ? dc.map.sumPerCpuU64(v, dc.byteOffset ?? 0) : v.readBigUInt64LE(dc.byteOffset ?? 0);
  }

  close(): void {
    if (!this.handle) return;
    native().ringbufClose(this.handle);
    this.handle = undefined;
    this.host.forgetRingBuffer(this);
  }
}
