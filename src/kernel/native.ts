// Loads the N-API addon (native/build/Release/faultlens_native.node) and types its surface.
// Only this package's modules call it; everyone else uses the facade classes.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Handle = { readonly __handle: unique symbol };

export interface NativeProgramInfo {
  name: string; section: string; type: number; typeName: string; attachType: number; attachTypeName: string; fd: number;
}
export interface NativeMapInfo {
  name: string; type: number; typeName: string; keySize: number; valueSize: number; maxEntries: number; fd: number;
}
export interface NativeMember {
  name: string; offset: number; bitOffset: number; bitSize: number; size: number; kind?: string; signed?: boolean;
  arrayLen?: number; elemSize?: number; elemKind?: string; members?: NativeMember[];
}
export interface NativeLink { handle: Handle; description: string }
export type ProbeAnswer = boolean | { errno: number; error: string };

export interface Native {
  openObject(path: string): Handle;
  loadObject(obj: Handle): void;
  closeObject(obj: Handle): void;
  describeObject(obj: Handle): { programs: NativeProgramInfo[]; maps: NativeMapInfo[]; loaded: boolean };
  setMapMaxEntries(obj: Handle, map: string, n: number): void;
  detachLink(link: Handle): void;
  openObjectCount(): number;
  closeAll(): void;
  attachTracepoint(obj: Handle, prog: string, category: string, event: string): NativeLink;
  attachRawTracepoint(obj: Handle, prog: string, event: string): NativeLink;
  attachUprobe(obj: Handle, prog: string, binary: string, symbol: string | null, offset: number | null,
    pid: number | null, retprobe: boolean, cookie: bigint | null): NativeLink;
  attachCgroup(obj: Handle, prog: string, cgroupPath: string, attachType: string | null): NativeLink;
  attachTc(obj: Handle, prog: string, ifindex: number | null, ifname: string | null, netns: string | null,
    direction: string, priority: number | null, mode: string | null, handle: number | null): NativeLink;
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | undefined;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | undefined;
  mapLookupBatch(fd: number, token: Buffer | null, tokenSize: number, keySize: number, valueSize: number, count: number):
    { count: number; keys: Buffer; values: Buffer; token: Buffer; done: boolean };
  numPossibleCpus(): number;
  ringbufOpen(obj: Handle, map: string, cb: (buf: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number) => void,
    maxBatchBytes: number | null): Handle;
  ringbufClose(rb: Handle): void;
  ringbufConsume(rb: Handle): number;
  ringbufStats(rb: Handle): { batches: number; records: number };
  ringbufRef(rb: Handle, ref: boolean): void;
  structLayout(obj: Handle, name: string): { name: string; size: number; kind: string; members: NativeMember[] };
  probeProgType(type: number): ProbeAnswer;
  probeMapType(type: number): ProbeAnswer;
  probeHelper(progType: number, helper: number): ProbeAnswer;
  enums(): { progTypes: Record<string, number>; mapTypes: Record<string, number>; attachTypes: Record<string, number>;
    linkTypes: Record<string, number>; helpers: Record<string, number> };
  memlock(raise: boolean): { before: number; after: number; error?: string };
  vmlinuxBtf(): { ok: boolean; types?: number; error?: string };
}

const ADDON = join('native', 'build', 'Release', 'faultlens_native.node');

/** The repo root: the nearest ancestor holding package.json (works from src/ under tsx and from dist/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('faultlens: cannot find the repository root (package.json + native/)');
    dir = up;
  }
}

let cached: Native | undefined;

export function native(): Native {
  if (cached) return cached;
  const path = join(repoRoot(), ADDON);
  if (!existsSync(path)) {
    throw new Error(`faultlens native addon is not built (${path} missing): run scripts/build.sh`);
  }
  cached = createRequire(import.meta.url)(path) as Native;
  return cached;
}
