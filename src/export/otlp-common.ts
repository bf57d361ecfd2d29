// Protobuf wire helpers shared by the OTLP trace and metric encoders: protobufjs's Writer does the varints
// and length prefixes; field numbers are those of opentelemetry-proto (common/v1, resource/v1), named here
// once. 64-bit nanosecond times are written from bigints (a JS number loses them above 2^53).
import protobuf from 'protobufjs/minimal.js';

export type Writer = protobuf.Writer;
export const newWriter = (): Writer => protobuf.Writer.create();

const LEN = 2; // wire type: length-delimited
const VARINT = 0;
const I64 = 1;
const I32 = 5;

export const tag = (w: Writer, field: number, wire: number): Writer => w.uint32((field << 3) | wire);

/** A nested message: `body` writes its fields; skipped when it wrote nothing (proto3 default). */
export function message(w: Writer, field: number, body: (w: Writer) => void): void {
  tag(w, field, LEN).fork();
  body(w);
  w.ldelim();
}

export function str(w: Writer, field: number, v: string | undefined): void {
  if (v) tag(w, field, LEN).string(v);
}

export function bytes(w: Writer, field: number, v: Uint8Array | undefined): void {
  if (v && v.length) tag(w, field, LEN).bytes(v);
}

export function uvarint(w: Writer, field: number, v: number): void {
  if (v) tag(w, field, VARINT).uint32(v);
}

export function bool(w: Writer, field: number, v: boolean): void {
  if (v) tag(w, field, VARINT).bool(true);
}

export function double(w: Writer, field: number, v: number, always = false): void {
  if (v || always) tag(w, field, I64).double(v);
}

export function fixed32(w: Writer, field: number, v: number): void {
  if (v) tag(w, field, I32).fixed32(v);
}

/** fixed64 / sfixed64 from a bigint (two's complement for negatives). */
export function fixed64(w: Writer, field: number, v: bigint, always = false): void {
  if (!v && !always) return;
  const u = BigInt.asUintN(64, v);
  tag(w, field, I64).fixed32(Number(u & 0xffffffffn)).fixed32(Number(u >> 32n));
}

/** Raw fixed64 values (packed repeated fields write them back to back). */
export function fixed64Raw(w: Writer, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  w.fixed32(Number(u & 0xffffffffn)).fixed32(Number(u >> 32n));
}

// ---- common.v1 / resource.v1 --------------------------------------------------------------------

export type AttrValue = string | number | boolean | bigint;
export type Attributes = Record<string, AttrValue | undefined | null>;

/** AnyValue: string_value=1, bool_value=2, int_value=3, double_value=4. */
function anyValue(w: Writer, v: AttrValue): void {
  if (typeof v === 'string') tag(w, 1, LEN).string(v);
  else if (typeof v === 'boolean') tag(w, 2, VARINT).bool(v);
  else if (typeof v === 'bigint') tag(w, 3, VARINT).int64(BigInt.asIntN(64, v).toString());
  else if (Number.isSafeInteger(v)) tag(w, 3, VARINT).int64(v);
  else tag(w, 4, I64).double(v);
}

/** repeated KeyValue at `field` (KeyValue: key=1, value=2). Undefined/null values are left out. */
export function attributes(w: Writer, field: number, attrs: Attributes): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))) continue;
    message(w, field, (m) => {
      tag(m, 1, LEN).string(k);
      message(m, 2, (a) => anyValue(a, v));
    });
  }
}

/** Resource: attributes=1. */
export function resource(w: Writer, field: number, attrs: Attributes): void {
  message(w, field, (r) => attributes(r, 1, attrs));
}

/** InstrumentationScope: name=1, version=2. */
export function scope(w: Writer, field: number, name: string, version: string): void {
  message(w, field, (s) => {
    str(s, 1, name);
    str(s, 2, version);
  });
}

export const SCOPE_NAME = 'faultlens';
export const SCOPE_VERSION = '0.1.0';

/** Hex id -> bytes of `size`; anything else (missing, wrong length, not hex) -> undefined. */
export function hexId(hex: string | undefined, size: number): Uint8Array | undefined {
  if (!hex || hex.length !== size * 2 || !/^[0-9a-f]+$/i.test(hex)) return undefined;
  const b = Buffer.from(hex, 'hex');
  return b.every((x) => x === 0) ? undefined : b; // all-zero ids are invalid in OTLP
}
