// Decodes biz_event records (bpf/uprobe.h) into business events, using each probe's compiled layout for the
// captured values and the object's BTF for the header (no hard-coded offsets).
import { fieldOffsets, readCString, type StructLayout } from '../kernel/index.js';
import { BIZ, type CompiledProbe, type CompiledValue } from './business-spec.js';

/** A captured value: integers that do not fit a double exactly come as decimal strings, pointers/bytes as hex. */
export type BusinessValue = number | string | boolean | null;

export interface BusinessEvent {
  probe: string;
  tsNs: bigint; // entry time, CLOCK_MONOTONIC (same clock as process.hrtime.bigint())
  durNs?: bigint; // entry -> return, for probes with a return spec
  pid: number;
  tid: number;
  comm: string;
  cgroupId: bigint;
  /** Arguments and the return value (under its name), null where the read failed. */
  values: Record<string, BusinessValue>;
  /** Names of values that could not be read (NULL or unmapped pointer). */
  unreadable?: string[];
}

const big = (v: bigint): number | string => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());

export function decodeValue(v: CompiledValue, buf: Buffer, at: number): BusinessValue {
  const o = at + v.outOff;
  switch (v.type) {
    case 'i8': case 'char': return buf.readInt8(o);
    case 'i16': case 'short': return buf.readInt16LE(o);
    case 'i32': case 'int': return buf.readInt32LE(o);
    case 'i64': case 'long': return big(buf.readBigInt64LE(o));
    case 'u8': return buf.readUInt8(o);
    case 'u16': return buf.readUInt16LE(o);
    case 'u32': case 'unsigned int': return buf.readUInt32LE(o);
    case 'u64': case 'unsigned long': case 'size_t': return big(buf.readBigUInt64LE(o));
    case 'bool': return buf.readUInt8(o) !== 0;
    case 'pointer': return `0x${buf.readBigUInt64LE(o).toString(16)}`;
    case 'f32': case 'float': return buf.readFloatLE(o);
    case 'f64': case 'double': return buf.readDoubleLE(o);
    case 'string': case 'chars': {
      let end = o;
      const stop = o + v.size;
      while (end < stop && buf[end] !== 0) end++;
      return buf.toString('utf8', o, end);
    }
    case 'bytes': return buf.toString('hex', o, o + v.size);
  }
}

export class BusinessEventDecoder {
  private readonly off;
  private readonly dataOff: number;
  readonly headerSize: number;

  constructor(layout: StructLayout) {
    this.off = fieldOffsets(layout, {
      ts_ns: 8, dur_ns: 8, cgroup_id: 8, ret: 8, probe_id: 4, pid: 4, tid: 4, err_mask: 4, data_len: 2, flags: 2,
      comm: 16,
    });
    this.dataOff = fieldOffsets(layout, ['data']).data;
    this.headerSize = this.dataOff;
  }

  probeId(buf: Buffer, at: number): number {
    return buf.readUInt32LE(at + this.off.probe_id);
  }

  decode(p: CompiledProbe, buf: Buffer, at: number): BusinessEvent {
    const o = this.off;
    const errMask = buf.readUInt32LE(at + o.err_mask);
    const returned = (buf.readUInt16LE(at + o.flags) & BIZ.F_RETURN) !== 0;
    const data = at + this.dataOff;
    const values: Record<string, BusinessValue> = {};
    const unreadable: string[] = [];
    p.args.forEach((a, i) => {
      if (errMask & (1 << i)) { values[a.name] = null; unreadable.push(a.name); } else values[a.name] = decodeValue(a, buf, data);
    });
    if (p.ret && returned) {
      if (errMask & 0x80000000) { values[p.ret.name] = null; unreadable.push(p.ret.name); } else values[p.ret.name] = decodeValue(p.ret, buf, data);
    }
    const e: BusinessEvent = {
      probe: p.spec.name,
      tsNs: buf.readBigUInt64LE(at + o.ts_ns),
      pid: buf.readUInt32LE(at + o.pid),
      tid: buf.readUInt32LE(at + o.tid),
      comm: readCString(buf, at + o.comm, 16),
      cgroupId: buf.readBigUInt64LE(at + o.cgroup_id),
      values,
    };
    if (returned) e.durNs = buf.readBigUInt64LE(at + o.dur_ns);
    if (unreadable.length) e.unreadable = unreadable;
    return e;
  }
}

/** Builds the biz_spec map value for a compiled probe from the object's BTF layouts. */
export function encodeSpec(p: CompiledProbe, spec: StructLayout, arg: StructLayout): Buffer {
  const s = fieldOffsets(spec, { flags: 4, sample_every: 4, nargs: 2, data_len: 2, args: arg.size * BIZ.MAX_ARGS, ret: arg.size });
  const a = fieldOffsets(arg, { src: 1, kind: 1, nderef: 1, size: 2, out_off: 2, reg_or_off: 4, deref: 4 * BIZ.MAX_DEREF });
  const buf = Buffer.alloc(spec.size);
  buf.writeUInt32LE(p.flags, s.flags);
  buf.writeUInt32LE(p.sampleEvery, s.sample_every);
  buf.writeUInt16LE(p.args.length, s.nargs);
  buf.writeUInt16LE(p.dataLen, s.data_len);
  const put = (v: CompiledValue, base: number) => {
    buf.writeUInt8(v.src, base + a.src);
    buf.writeUInt8(v.kind, base + a.kind);
    buf.writeUInt8(v.deref.length, base + a.nderef);
    buf.writeUInt16LE(v.size, base + a.size);
    buf.writeUInt16LE(v.outOff, base + a.out_off);
    buf.writeInt32LE(v.regOrOff, base + a.reg_or_off);
    v.deref.forEach((d, i) => buf.writeInt32LE(d, base + a.deref + 4 * i));
  };
  p.args.forEach((v, i) => put(v, s.args + i * arg.size));
  if (p.ret) put(p.ret, s.ret);
  return buf;
}
