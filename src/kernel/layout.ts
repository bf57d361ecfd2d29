// Struct layouts read from a compiled object's BTF, flattened for decoders: nested named members
// appear as "outer.inner", anonymous struct/union members are merged into their parent.
import type { NativeMember } from './native.js';

export interface FieldLayout {
  offset: number;
  size: number;
  arrayLen?: number;
  elemSize?: number;
  signed?: boolean;
  kind?: string;
  bitOffset?: number; // set for bitfields only
  bitSize?: number;
}

export interface StructLayout {
  name: string;
  size: number;
  fields: Record<string, FieldLayout>;
}

export function flattenLayout(name: string, size: number, members: NativeMember[]): StructLayout {
  const fields: Record<string, FieldLayout> = {};
  const walk = (ms: NativeMember[], prefix: string, base: number, baseBits: number) => {
    for (const m of ms) {
      const offset = base + m.offset;
      if (!m.name) { // anonymous struct/union: its members belong to the parent
        if (m.members) walk(m.members, prefix, offset, baseBits + m.bitOffset);
        continue;
      }
      const f: FieldLayout = { offset, size: m.size };
      if (m.arrayLen !== undefined) { f.arrayLen = m.arrayLen; f.elemSize = m.elemSize; }
      if (m.signed !== undefined) f.signed = m.signed;
      if (m.kind) f.kind = m.kind;
      if (m.bitSize) { f.bitOffset = baseBits + m.bitOffset; f.bitSize = m.bitSize; }
      fields[prefix + m.name] = f;
      if (m.members) walk(m.members, `${prefix}${m.name}.`, offset, baseBits + m.bitOffset);
    }
  };
  walk(members, '', 0, 0);
  return { name, size, fields };
}
