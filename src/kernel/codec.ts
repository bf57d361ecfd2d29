// Codecs turn map keys/values into Buffers and back, so callers can use BpfMap.typed<K, V>().
// Little-endian: BPF maps hold host-order data and faultlens targets little-endian hosts (x86_64, arm64).
import { BpfError } from './errors.js';
import type { BpfMap } from './map.js';

export interface Codec<T> {
  readonly size: number;
  encode(v: T): Buffer;
  decode(b: Buffer): T;
}

export const u32: Codec<number> = {
  size: 4,
  encode: (v) => { const b = Buffer.allocUnsafe(4); b.writeUInt32LE(v >>> 0); return b; },
  decode: (b) => b.readUInt32LE(0),
};

export const u64: Codec<bigint> = {
  size: 8,
  encode: (v) => { const b = Buffer.allocUnsafe(8); b.writeBigUInt64LE(v); return b; },
  decode: (b) => b.readBigUInt64LE(0),
};

export const i64: Codec<bigint> = {
  size: 8,
  encode: (v) => { const b = Buffer.allocUnsafe(8); b.writeBigInt64LE(v); return b; },
  decode: (b) => b.readBigInt64LE(0),
};

export function bytes(size: number): Codec<Buffer> {
  return { size, encode: (v) => v, decode: (b) => Buffer.from(b) };
}

/** A map with typed keys and values (sizes are checked against the map once, here). */
export class TypedMap<K, V> {
  constructor(readonly map: BpfMap, private readonly key: Codec<K>, private readonly value: Codec<V>) {
    if (key.size !== map.keySize) throw new BpfError(`map '${map.name}': key codec is ${key.size} bytes, map keys are ${map.keySize}`);
    if (value.size !== map.valueBufferSize) {
      throw new BpfError(`map '${map.name}': value codec is ${value.size} bytes, map values are ${map.valueBufferSize}`);
    }
  }
  get(k: K): V | undefined {
    const v = this.map.lookup(this.key.encode(k));
    return v && this.value.decode(v);
  }
  set(k: K, v: V, flags?: 'any' | 'noexist' | 'exist'): void {
    this.map.update(this.key.encode(k), this.value.encode(v), flags);
  }
  delete(k: K): boolean {
    return this.map.delete(this.key.encode(k));
  }
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.map.entries()) yield [this.key.decode(k), this.value.decode(v)];
  }
}
