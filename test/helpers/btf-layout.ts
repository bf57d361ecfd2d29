// Test-side struct layout from a BPF object's BTF via `bpftool btf dump -j`: an independent reading of
// the same BTF the kernel facade parses, used by unit tests that should not depend on the native addon.
import { execFileSync } from 'node:child_process';

interface BtfType { id: number; kind: string; name?: string; type_id?: number; size?: number; nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[] }

export interface BtfStruct { size: number; fields: Map<string, { offset: number; size: number }> }

export function btfStructLayout(objPath: string, structName: string): BtfStruct {
  const json = execFileSync('bpftool', ['btf', 'dump', 'file', objPath, '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const types = (JSON.parse(json) as { types: BtfType[] }).types;
  const byId = new Map(types.map((t) => [t.id, t]));
  const sizeOf = (id: number): number => {
    const t = byId.get(id);
    if (!t) throw new Error(`BTF type ${id} missing`);
    switch (t.kind) {
      case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': return t.size ?? 0;
      case 'PTR': return 8;
      case 'ARRAY': return (t.nr_elems ?? 0) * sizeOf(t.type_id!);
      case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': return sizeOf(t.type_id!);
      default: throw new Error(`BTF kind ${t.kind} has no size`);
    }
  };
  const st = types.find((t) => t.kind === 'STRUCT' && t.name === structName);
  if (!st) throw new Error(`struct ${structName} not in ${objPath}'s BTF`);
  const fields = new Map<string, { offset: number; size: number }>();
  for (const m of st.members ?? []) fields.set(m.name, { offset: m.bits_offset / 8, size: sizeOf(m.type_id) });
  return { size: st.size ?? 0, fields };
}
