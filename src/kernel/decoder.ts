// The one place where a TS decoder learns record offsets: from the StructLayout the object's BTF
// gave, never from constants. Call once at startup; the hot path then reads at plain numbers.
import type { StructLayout } from './layout.js';

/** Expected fields: names, or name -> expected byte size (checked, catches a type change in the header). */
export type FieldSpec = readonly string[] | Readonly<Record<string, number>>;

type Names<S> = S extends readonly (infer N extends string)[] ? N : S extends Record<infer K extends string, number> ? K : never;

/**
 * Offsets of the fields a decoder needs. Throws one Error naming every missing field (and every size
 * mismatch), listing what the struct does have.
 */
export function fieldOffsets<const S extends FieldSpec>(layout: StructLayout, spec: S): { [K in Names<S>]: number } {
  const names: string[] = Array.isArray(spec) ? [...(spec as readonly string[])] : Object.keys(spec);
  const sizes: Record<string, number> | undefined = Array.isArray(spec) ? undefined : (spec as Record<string, number>);
  const missing: string[] = [];
  const wrongSize: string[] = [];
  const out: Record<string, number> = {};
  for (const n of names) {
    const f = layout.fields[n];
    if (!f) { missing.push(n); continue; }
    if (sizes && f.size !== sizes[n]) wrongSize.push(`${n} is ${f.size} bytes, decoder expects ${sizes[n]}`);
    out[n] = f.offset;
  }
  if (missing.length || wrongSize.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    if (wrongSize.length) parts.push(wrongSize.join('; '));
    throw new Error(`struct ${layout.name} does not match its decoder: ${parts.join('; ')} ` +
      `(struct has: ${Object.keys(layout.fields).join(', ')})`);
  }
  return out as { [K in Names<S>]: number };
}

/** Reads a NUL-terminated C string (e.g. comm) from a fixed-size char array. */
export function readCString(buf: Buffer, offset: number, maxLen: number): string {
  let end = offset;
  const stop = offset + maxLen;
  while (end < stop && buf[end] !== 0) end++;
  return buf.toString('latin1', offset, end);
}
