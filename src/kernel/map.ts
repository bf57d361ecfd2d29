// Typed access to one BPF map of a loaded object: element ops and iteration (batched when the kernel
// supports it for the map type, else get_next_key). Per-CPU maps exchange one buffer holding every
// possible CPU's value, each padded to 8 bytes (valueBufferSize bytes in total).
import { native } from './native.js';
import { BpfError, call } from './errors.js';
import type { NativeMapInfo } from './native.js';
import type { ObjectOwner } from './owner.js';
import { TypedMap, type Codec } from './codec.js';

/** Kernel map type numbers used by this layer (uapi enum bpf_map_type). */
export const MapType = {
  HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6, LRU_HASH: 9,
  LRU_PERCPU_HASH: 10, PERCPU_CGROUP_STORAGE: 21, RINGBUF: 27,
} as const;

const PERCPU = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE]);
const FLAGS = { any: 0, noexist: 1, exist: 2 } as const;
const BATCH_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP', 'ENOSYS', 'EPERM']);

let ncpus: number | undefined;
export function possibleCpus(): number {
  return (ncpus ??= native().numPossibleCpus());
}

export class BpfMap {
  readonly name: string;
  readonly type: number;
  readonly typeName: string;
  readonly keySize: number;
  /** Declared value size (per CPU for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly perCpu: boolean;
  /** Bytes of a value buffer as lookup/update exchange it (ncpus * round_up(valueSize, 8) for per-CPU maps). */
  readonly valueBufferSize: number;
  private readonly fd: number;
  private batchWorks: boolean | undefined;

  /** @internal the object this map belongs to */
  constructor(readonly owner: ObjectOwner, info: NativeMapInfo) {
    this.name = info.name;
    this.type = info.type;
    this.typeName = info.typeName;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.fd = info.fd;
    this.perCpu = PERCPU.has(info.type);
    this.valueBufferSize = this.perCpu ? possibleCpus() * ((info.valueSize + 7) & ~7) : info.valueSize;
  }

  /** Value for key, or undefined when absent. */
  lookup(key: Buffer): Buffer | undefined {
    this.checkKey(key);
    return call(() => native().mapLookup(this.liveFd(), key, this.valueBufferSize));
  }

  update(key: Buffer, value: Buffer, flags: 'any' | 'noexist' | 'exist' = 'any'): void {
    this.checkKey(key);
    if (value.length !== this.valueBufferSize) {
      throw new BpfError(`map '${this.name}': value is ${value.length} bytes, expected ${this.valueBufferSize}` +
        (this.perCpu ? ` (${possibleCpus()} CPUs x ${(this.valueSize + 7) & ~7})` : ''));
    }
    this.wrap(() => native().mapUpdate(this.liveFd(), key, value, FLAGS[flags]));
  }

  /** Deletes key; false when it was absent. */
  delete(key: Buffer): boolean {
    this.checkKey(key);
    return this.wrap(() => native().mapDelete(this.liveFd(), key));
  }

  *keys(): IterableIterator<Buffer> {
    for (const [k] of this.entries()) yield k;
  }

  /**
   * Every entry; one batch syscall per chunk where supported (arrays, hashes on >= 5.6), else
   * get_next_key + lookup. { batch: false } forces the latter. Yielded buffers are views into
   * a chunk: copy them if kept past the next step.
   */
  *entries(opts: { batch?: boolean } = {}): IterableIterator<[Buffer, Buffer]> {
    if (opts.batch !== false && this.batchWorks !== false) {
      yield* this.batchEntries(); // returns at once, setting batchWorks=false, when the map type has no batch ops
      if ((this.batchWorks as boolean | undefined) !== false) return;
    }
    yield* this.iterEntries();
  }

  /** This map with typed keys and values, e.g. map.typed(u32, u64). */
  typed<K, V>(key: Codec<K>, value: Codec<V>): TypedMap<K, V> {
    return new TypedMap(this, key, value);
  }

  /** Sums a per-CPU value's u64 at byteOffset over all CPUs (counters). */
  sumPerCpuU64(value: Buffer, byteOffset = 0): bigint {
    const stride = (this.valueSize + 7) & ~7;
    let sum = 0n;
    for (let off = byteOffset; off < value.length; off += stride) sum += value.readBigUInt64LE(off);
    return sum;
  }

  /** A per-CPU array of u64 counters read by name: { name: index } -> { name: sum over CPUs }. */
  readCounters<K extends string>(indexes: Record<K, number>): Record<K, bigint> {
    const out = {} as Record<K, bigint>;
    const key = Buffer.alloc(4);
    for (const [name, idx] of Object.entries(indexes) as [K, number][]) {
      key.writeUInt32LE(idx);
      const v = this.lookup(key);
      out[name] = v ? this.sumPerCpuU64(v) : 0n;
    }
    return out;
  }

  /** Whether the last entries() used batch ops (undefined before the first iteration). */
  get usesBatch(): boolean | undefined {
    return this.batchWorks;
  }

  private *batchEntries(): Generator<[Buffer, Buffer]> {
    const tokenSize = Math.max(this.keySize, 8);
    let chunk = Math.max(1, Math.min(this.maxEntries, 1024));
    let token: Buffer | null = null;
    for (;;) {
      let r;
      try {
        r = native().mapLookupBatch(this.liveFd(), token, tokenSize, this.keySize, this.valueBufferSize, chunk);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code === 'ENOSPC' && chunk < this.maxEntries * 2) { // one hash bucket holds more than chunk
          chunk *= 2;
          continue;
        }
        if (token === null && BATCH_UNSUPPORTED.has(code)) {
          this.batchWorks = false;
          return;
        }
        throw new BpfError(`map '${this.name}': ${(err as Error).message}`, { code });
      }
      this.batchWorks = true;
      for (let i = 0; i < r.count; i++) {
        yield [
          r.keys.subarray(i * this.keySize, (i + 1) * this.keySize),
          r.values.subarray(i * this.valueBufferSize, (i + 1) * this.valueBufferSize),
        ];
      }
      if (r.done) return;
      token = r.token;
    }
  }

  private *iterEntries(): Generator<[Buffer, Buffer]> {
    let key: Buffer | undefined = undefined;
    for (;;) {
      const prev: Buffer | null = key ?? null;
      key = call(() => native().mapNextKey(this.liveFd(), prev, this.keySize));
      if (!key) return;
      const value = this.lookup(key);
      if (value) yield [key, value]; // deleted between next_key and lookup: skip
    }
  }

  private liveFd(): number {
    this.owner.handle();
    return this.fd;
  }

  private checkKey(key: Buffer): void {
    if (!Buffer.isBuffer(key) || key.length !== this.keySize) {
      throw new BpfError(`map '${this.name}': key must be a ${this.keySize}-byte Buffer`);
    }
  }

  private wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const e = err as { code?: string; errno?: number; message: string };
      throw new BpfError(`map '${this.name}': ${e.message}`, { code: e.code, errno: e.errno });
    }
  }
}
