// Test helper: run a ConnectionParser over chunks and collect everything it emits.
import assert from 'node:assert/strict';
import { ConnectionParser, type ConnectionOptions } from '../../src/protocols/connection.js';
import type { Chunk, L7Record, ParserStats } from '../../src/protocols/types.js';
import { isValidRecord } from '../../src/protocols/validate.js';

export function parseAll(chunks: Chunk[], opts: ConnectionOptions = {}): { records: L7Record[]; stats: ParserStats; protocol: string } {
  const p = new ConnectionParser(opts);
  const records: L7Record[] = [];
  for (const c of chunks) records.push(...p.push(c));
  records.push(...p.close());
  for (const r of records) assert.equal(isValidRecord(r), null, `invalid record ${JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return { records, stats: p.stats(), protocol: p.protocol };
}

/** Compact view of records for deep-equality assertions. */
export function summary(records: L7Record[], fields: string[] = ['method', 'target', 'status']): string[] {
  return records.map((r) => fields.map((f) => String((r as unknown as Record<string, unknown>)[f])).join(' '));
}

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
