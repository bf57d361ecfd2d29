// Probe: one object plus a declared list of attachments, started and stopped as a unit. Optional
// attachments that fail (a tracepoint this kernel lacks, a hook type it cannot do) are recorded as
// skipped instead of failing the whole probe, so callers can report what is degraded.
import { BpfObject, type Link, type TcOptions, type UprobeOptions } from './object.js';

export type AttachSpec = { program: string; optional?: boolean } & (
  | { tracepoint: [category: string, event: string] }
  | { rawTracepoint: string }
  | { uprobe: UprobeOptions }
  | { cgroup: { path: string; attachType?: string } }
  | { tc: TcOptions }
);

export interface ProbeOptions {
  /** Map sizes to set before load (e.g. ring buffer bytes). */
  maxEntries?: Record<string, number>;
  /** Runs after load, before anything attaches (write config maps here). */
  beforeAttach?: (obj: BpfObject) => void;
  attach: AttachSpec[];
}

export interface SkippedAttachment { program: string; target: string; error: string }

function target(s: AttachSpec): string {
  if ('tracepoint' in s) return `tracepoint ${s.tracepoint.join('/')}`;
  if ('rawTracepoint' in s) return `raw_tracepoint ${s.rawTracepoint}`;
  if ('uprobe' in s) return `uprobe ${s.uprobe.binary}:${s.uprobe.symbol ?? s.uprobe.offset}`;
  if ('cgroup' in s) return `cgroup ${s.cgroup.path}`;
  return `tc ${s.tc.ifname ?? s.tc.ifindex} ${s.tc.direction}`;
}

function attachOne(obj: BpfObject, s: AttachSpec): Link {
  const p = obj.program(s.program);
  if ('tracepoint' in s) return p.attachTracepoint(s.tracepoint[0], s.tracepoint[1]);
  if ('rawTracepoint' in s) return p.attachRawTracepoint(s.rawTracepoint);
  if ('uprobe' in s) return p.attachUprobe(s.uprobe);
  if ('cgroup' in s) return p.attachCgroup(s.cgroup.path, s.cgroup.attachType);
  return p.attachTc(s.tc);
}

export class Probe {
  private constructor(readonly object: BpfObject, readonly links: Link[], readonly skipped: SkippedAttachment[]) {}

  /** Opens, loads and attaches; on a non-optional failure everything done so far is undone. */
  static start(path: string, opts: ProbeOptions): Probe {
    const obj = BpfObject.open(path);
    const links: Link[] = [];
    const skipped: SkippedAttachment[] = [];
    try {
      for (const [map, n] of Object.entries(opts.maxEntries ?? {})) obj.setMaxEntries(map, n);
      obj.load();
      opts.beforeAttach?.(obj);
      for (const spec of opts.attach) {
        try {
          links.push(attachOne(obj, spec));
        } catch (err) {
          if (!spec.optional) throw err;
          skipped.push({ program: spec.program, target: target(spec), error: (err as Error).message });
        }
      }
    } catch (err) {
      obj.close();
      throw err;
    }
    return new Probe(obj, links, skipped);
  }

  close(): void {
    this.object.close();
  }
}
