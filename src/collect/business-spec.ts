// Business probe specs: the config schema (zod), validation one probe at a time (a bad probe is reported,
// the others still run), and compilation into what the generic BPF program reads (bpf/uprobe.h biz_spec).
//
// What can be captured (x86-64 SysV ABI, the only ABI compiled for now):
//  - integer-class arguments by position (`index` 0..5 in registers, 6..11 from the stack; positions count
//    integer/pointer arguments only, as the ABI assigns them);
//  - any 8-byte stack slot at function entry (`stack`: byte offset from the stack pointer, 8 = first slot);
//  - a pointer chain: `deref: [o1, ..., on]` reads the field at V+o1, following pointers at each hop but the
//    last (e.g. `deref: [24]` on a `struct order *` reads its member at offset 24; `deref: [8, 0]` follows
//    the pointer at offset 8 and reads what it points to);
//  - ints (i8..u64, bool, pointer), C strings (bounded, from a char * or an in-place char array), fixed-size
//    bytes, and floats (f32/f64) from memory or the stack;
//  - the return value (rax) through a uretprobe, with the call's duration.
// Not capturable: floating-point arguments and return values passed in xmm registers (uprobes see only
// pt_regs, which holds no SSE state): read such a value through a pointer (`deref`) or a `stack` slot.
import { z } from 'zod/v4';

/** Mirrors bpf/uprobe.h. */
export const BIZ = {
  MAX_ARGS: 8, MAX_DEREF: 4, DATA_MAX: 512, FIELD_MAX: 256, MAX_PROBES: 1024,
  SRC_REG: 0, SRC_STACK: 1, SRC_RET: 2,
  KIND_INT: 0, KIND_STR: 1, KIND_STR_INLINE: 2, KIND_BYTES: 3,
  F_RETURN: 1,
} as const;

const INT_TYPES = {
  i8: 1, i16: 2, i32: 4, i64: 8, u8: 1, u16: 2, u32: 4, u64: 8, bool: 1, pointer: 8,
  // C spellings people will write in a config
  char: 1, short: 2, int: 4, long: 8, 'unsigned int': 4, 'unsigned long': 8, size_t: 8,
} as const;
const FLOAT_TYPES = { f32: 4, f64: 8, float: 4, double: 8 } as const;
export type IntType = keyof typeof INT_TYPES;
export type FloatType = keyof typeof FLOAT_TYPES;
export const VALUE_TYPES = [
  'i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64', 'bool', 'pointer', 'char', 'short', 'int', 'long', 'unsigned int',
  'unsigned long', 'size_t', 'f32', 'f64', 'float', 'double', 'string', 'chars', 'bytes',
] as const satisfies readonly (IntType | FloatType | 'string' | 'chars' | 'bytes')[];
export type ValueType = (typeof VALUE_TYPES)[number];

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier (letters, digits, _)');

const valueFields = {
  type: z.enum(VALUE_TYPES, { error: `must be one of ${VALUE_TYPES.join(', ')}` }),
  deref: z.array(z.number().int().min(-65536).max(65536)).max(BIZ.MAX_DEREF).optional()
    .describe('pointer hops: byte offsets; every hop but the last follows a pointer'),
  maxLen: z.number().int().min(1).max(BIZ.FIELD_MAX).optional().describe('string: most bytes kept, incl. NUL (default 64)'),
  size: z.number().int().min(1).max(BIZ.FIELD_MAX).optional().describe('chars/bytes: exact size'),
};

export const BusinessArgSchema = z.object({
  name: identifier,
  index: z.number().int().min(0).max(11).optional().describe('integer-class argument position (0-based)'),
  stack: z.number().int().min(0).max(4096).optional().describe('byte offset from the stack pointer at entry'),
  ...valueFields,
}).strict();

export const BusinessReturnSchema = z.object({ name: identifier.default('ret'), ...valueFields }).strict();

export const BusinessMetricSchema = z.object({
  name: identifier,
  kind: z.enum(['count', 'sum', 'histogram']),
  value: z.string().optional().describe("a numeric argument, the return value, or 'duration' (ns; needs a return)"),
  labels: z.array(z.string()).max(6).default([]),
}).strict();

export const BusinessProbeSchema = z.object({
  name: identifier,
  target: z.string().min(1).optional().describe('binary or shared library path; a bare library name is found with ldconfig'),
  pid: z.number().int().min(1).optional().describe('only this process (without target: its main executable)'),
  symbol: z.string().min(1).max(255).optional(),
  offset: z.number().int().min(0).optional().describe('file offset, or added to the symbol'),
  args: z.array(BusinessArgSchema).max(BIZ.MAX_ARGS).default([]),
  return: BusinessReturnSchema.optional(),
  events: z.boolean().default(true).describe('emit every call as a business event'),
  sample: z.number().int().min(1).max(1_000_000).default(1)
    .describe('record 1 call in N (overload control); calls are still counted exactly, metrics are scaled by N'),
  metrics: z.array(BusinessMetricSchema).default([]),
}).strict();

export type BusinessArg = z.output<typeof BusinessArgSchema>;
export type BusinessReturn = z.output<typeof BusinessReturnSchema>;
export type BusinessMetricSpec = z.output<typeof BusinessMetricSchema>;
export type BusinessProbeSpec = z.output<typeof BusinessProbeSchema>;
export type BusinessProbeInput = z.input<typeof BusinessProbeSchema>;

/**
 * The `business:` section of the main config. Probes stay loosely typed here so one bad probe does not
 * reject the whole file: parseBusinessProbes() validates each on its own.
 */
export const BusinessConfigSchema = z.object({
  probes: z.array(z.record(z.string(), z.unknown())).default([]),
}).strict();

/** How one captured value is laid out in biz_event.data and decoded back. */
export interface CompiledValue {
  name: string;
  type: ValueType;
  src: number;
  regOrOff: number;
  kind: number;
  size: number; // bytes read (ints: width; strings: max incl. NUL)
  outOff: number;
  outLen: number;
  deref: number[];
}

export interface CompiledProbe {
  spec: BusinessProbeSpec;
  sampleEvery: number;
  args: CompiledValue[];
  ret?: CompiledValue;
  dataLen: number;
  flags: number;
}

export class BusinessSpecError extends Error {
  override name = 'BusinessSpecError';
  constructor(readonly probe: string, message: string) {
    super(`business probe '${probe}': ${message}`);
  }
}

function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => {
    const where = i.path.join('.');
    const what = i.code === 'unrecognized_keys' ? `unknown setting(s) ${i.keys.join(', ')}` : i.message;
    return where ? `${where}: ${what}` : what;
  }).join('; ');
}

/** Validates probes one at a time: the good ones are returned, each bad one as an error naming it. */
export function parseBusinessProbes(raw: unknown[]): { probes: BusinessProbeSpec[]; errors: BusinessSpecError[] } {
  const probes: BusinessProbeSpec[] = [];
  const errors: BusinessSpecError[] = [];
  const seen = new Set<string>();
  raw.forEach((item, i) => {
    const label = typeof (item as { name?: unknown })?.name === 'string' ? (item as { name: string }).name : `#${i + 1}`;
    const r = BusinessProbeSchema.safeParse(item);
    if (!r.success) { errors.push(new BusinessSpecError(label, zodMessage(r.error))); return; }
    if (seen.has(r.data.name)) { errors.push(new BusinessSpecError(label, 'duplicate probe name')); return; }
    try {
      compileProbe(r.data); // semantic checks (positions, sizes, metric references)
    } catch (err) {
      errors.push(err as BusinessSpecError);
      return;
    }
    seen.add(r.data.name);
    probes.push(r.data);
  });
  return { probes, errors };
}

const align8 = (n: number) => (n + 7) & ~7;

function compileValue(probe: string, v: BusinessArg | (BusinessReturn & { index?: undefined; stack?: undefined }),
  isReturn: boolean, outOff: number): CompiledValue {
  const fail = (m: string) => { throw new BusinessSpecError(probe, `${isReturn ? 'return' : `argument '${v.name}'`}: ${m}`); };
  const deref = v.deref ?? [];
  let src: number = BIZ.SRC_RET;
  let regOrOff = 0;
  if (!isReturn) {
    if ((v.index === undefined) === (v.stack === undefined)) fail('give exactly one of index (argument position) or stack (byte offset)');
    if (v.index !== undefined && v.index < 6) { src = BIZ.SRC_REG; regOrOff = v.index; }
    else if (v.index !== undefined) { src = BIZ.SRC_STACK; regOrOff = 8 * (v.index - 5); } // return address at sp+0
    else { src = BIZ.SRC_STACK; regOrOff = v.stack!; }
  }
  let kind: number;
  let size: number;
  let outLen: number;
  if (v.type in INT_TYPES) {
    kind = BIZ.KIND_INT;
    size = INT_TYPES[v.type as IntType];
    outLen = 8;
  } else if (v.type in FLOAT_TYPES) {
    if (deref.length === 0 && (src === BIZ.SRC_REG || src === BIZ.SRC_RET)) {
      fail(`${v.type} ${isReturn ? 'return values come' : 'arguments come'} in xmm registers, which uprobes cannot read; ` +
        'read it through a pointer (deref) or a stack slot (stack) instead');
    }
    kind = BIZ.KIND_INT;
    size = FLOAT_TYPES[v.type as FloatType];
    outLen = 8;
  } else if (v.type === 'string') {
    kind = BIZ.KIND_STR;
    size = v.maxLen ?? 64;
    outLen = size;
  } else {
    if (v.size === undefined) fail(`type ${v.type} needs a size`);
    kind = v.type === 'chars' ? BIZ.KIND_STR_INLINE : BIZ.KIND_BYTES;
    size = v.size!;
    outLen = size;
  }
  // Without a hop, a value is a register/slot: for chars that is the array's address, i.e. a plain string.
  if (v.type === 'chars' && deref.length === 0) kind = BIZ.KIND_STR;
  return { name: v.name, type: v.type, src, regOrOff, kind, size, outOff, outLen: align8(outLen), deref };
}

/** Lays out the probe's captured values and checks everything the kernel side cannot. */
export function compileProbe(spec: BusinessProbeSpec): CompiledProbe {
  const fail = (m: string): never => { throw new BusinessSpecError(spec.name, m); };
  if (spec.symbol === undefined && spec.offset === undefined) fail('needs a symbol or an offset');
  if (spec.target === undefined && spec.pid === undefined) fail('needs a target (binary or library path) or a pid');
  const names = new Set<string>();
  let off = 0;
  const args: CompiledValue[] = [];
  for (const a of spec.args) {
    if (names.has(a.name)) fail(`two values are named '${a.name}'`);
    names.add(a.name);
    const c = compileValue(spec.name, a, false, off);
    off += c.outLen;
    args.push(c);
  }
  let ret: CompiledValue | undefined;
  if (spec.return) {
    if (names.has(spec.return.name)) fail(`two values are named '${spec.return.name}'`);
    names.add(spec.return.name);
    ret = compileValue(spec.name, spec.return, true, off);
    off += ret.outLen;
  }
  if (off > BIZ.DATA_MAX) fail(`captures ${off} bytes per call; at most ${BIZ.DATA_MAX} (lower maxLen/size)`);
  for (const m of spec.metrics) {
    if (m.kind !== 'count' && m.value === undefined) fail(`metric '${m.name}': a ${m.kind} needs a value`);
    if (m.value !== undefined) {
      if (m.value === 'duration') { if (!ret) fail(`metric '${m.name}': value 'duration' needs a return spec (uretprobe)`); }
      else {
        const v = [...args, ...(ret ? [ret] : [])].find((x) => x.name === m.value);
        if (!v) fail(`metric '${m.name}': value '${m.value}' is not a captured value (have: ${[...names].join(', ') || 'none'})`);
        else if (v.type === 'string' || v.type === 'chars' || v.type === 'bytes') fail(`metric '${m.name}': value '${m.value}' is not numeric`);
      }
    }
    for (const l of m.labels) if (!names.has(l) && l !== 'comm' && l !== 'pid') fail(`metric '${m.name}': label '${l}' is not a captured value, comm or pid`);
  }
  if (!spec.events && spec.metrics.length === 0) fail('neither events nor metrics: nothing to do');
  return { spec, sampleEvery: spec.sample, args, ret, dataLen: off, flags: ret ? BIZ.F_RETURN : 0 };
}
