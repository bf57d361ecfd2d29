// Runs business probes: one load of bpf/uprobe.bpf.o, then per probe a spec written to `biz_specs` under a
// fresh probe id and a uprobe (+ uretprobe) attached with that id as cookie. Probes come and go at run
// time without recompiling or reloading anything; a probe that fails (bad path, missing symbol) is
// reported with its cause and the others keep running.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, RingBuffer, type BpfMap, type Link, type StructLayout } from '../kernel/index.js';
import { BusinessEventDecoder, encodeSpec, type BusinessEvent } from './business-decoder.js';
import { BIZ, BusinessSpecError, compileProbe, type BusinessProbeSpec, type CompiledProbe } from './business-spec.js';
import { resolveTarget } from './business-target.js';

export interface BusinessCollectorOptions {
  objectPath?: string;
  ringBytes?: number; // power of two, default 4 MiB
  onEvents?: (events: BusinessEvent[]) => void;
}

export interface ProbeStatus {
  name: string;
  ok: boolean;
  error?: string;
  attachments: string[];
}

/** enum biz_stat */
export const BizStat = { events: 0, drops: 1, noSpec: 2, noEntry: 3, stashFull: 4 } as const;

export function defaultUprobeObjectPath(): string {
  for (const rel of ['../../bpf/.output/uprobe.bpf.o', '../../../bpf/.output/uprobe.bpf.o']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('bpf/.output/uprobe.bpf.o not found: build the BPF objects first (make -C bpf, or npm run build)');
}

interface Running { id: number; compiled: CompiledProbe; links: Link[] }

export class BusinessCollector {
  private obj: BpfObject | undefined;
  private rb: RingBuffer | undefined;
  private specs!: BpfMap;
  private counters!: BpfMap;
  private calls!: BpfMap;
  private specLayout!: StructLayout;
  private argLayout!: StructLayout;
  private decoder!: BusinessEventDecoder;
  private nextId = 1;
  private readonly byId = new Map<number, Running>();
  private readonly byName = new Map<string, Running>();
  /** Records whose probe was removed before they were drained. */
  orphans = 0;

  constructor(private readonly opts: BusinessCollectorOptions = {}) {}

  start(): this {
    const obj = BpfObject.open(this.opts.objectPath ?? defaultUprobeObjectPath());
    this.obj = obj;
    try {
      if (this.opts.ringBytes) obj.setMaxEntries('biz_events', this.opts.ringBytes);
      obj.load();
      this.specLayout = obj.structLayout('biz_spec');
      this.argLayout = obj.structLayout('biz_arg');
      this.decoder = new BusinessEventDecoder(obj.structLayout('biz_event'));
      this.specs = obj.map('biz_specs');
      this.counters = obj.map('biz_counters');
      this.calls = obj.map('biz_calls');
      const onEvents = this.opts.onEvents;
      this.rb = new RingBuffer(obj.map('biz_events'), (batch) => {
        const out: BusinessEvent[] = [];
        for (let i = 0; i < batch.count; i++) {
          const at = batch.offsets[i]!;
          const r = this.byId.get(this.decoder.probeId(batch.buf, at));
          if (!r) { this.orphans++; continue; }
          out.push(this.decoder.decode(r.compiled, batch.buf, at));
        }
        if (out.length && onEvents) onEvents(out);
      }, { dropCounter: { map: this.counters, index: BizStat.drops }, keepAlive: false });
    } catch (err) {
      this.close();
      throw err;
    }
    return this;
  }

  /** Starts a probe; failures come back as a status with the cause (nothing of that probe stays attached). */
  addProbe(spec: BusinessProbeSpec): ProbeStatus {
    const obj = this.obj;
    if (!obj) throw new Error('BusinessCollector: start() first');
    if (this.byName.has(spec.name)) return { name: spec.name, ok: false, error: `business probe '${spec.name}': already running`, attachments: [] };
    if (this.byId.size >= BIZ.MAX_PROBES) return { name: spec.name, ok: false, error: `business probe '${spec.name}': at most ${BIZ.MAX_PROBES} probes`, attachments: [] };
    const id = this.nextId++;
    const links: Link[] = [];
    const key = Buffer.alloc(4);
    key.writeUInt32LE(id);
    try {
      const compiled = compileProbe(spec);
      let binary: string;
      try {
        binary = resolveTarget(spec.target, spec.pid);
      } catch (err) {
        throw new BusinessSpecError(spec.name, (err as Error).message);
      }
      this.specs.update(key, encodeSpec(compiled, this.specLayout, this.argLayout));
      this.calls.update(key, Buffer.alloc(this.calls.valueBufferSize)); // the hot path only looks it up
      const running: Running = { id, compiled, links };
      this.byId.set(id, running); // before attaching: the first hit may come at once
      const where = { binary, symbol: spec.symbol, offset: spec.offset, pid: spec.pid, cookie: BigInt(id) };
      try {
        links.push(obj.program('biz_entry').attachUprobe(where));
        if (compiled.ret) links.push(obj.program('biz_return').attachUprobe({ ...where, retprobe: true }));
      } catch (err) {
        throw new BusinessSpecError(spec.name, (err as Error).message.split('\n')[0]!);
      }
      this.byName.set(spec.name, running);
      return { name: spec.name, ok: true, attachments: links.map((l) => l.description) };
    } catch (err) {
      for (const l of links) l.detach();
      this.byId.delete(id);
      this.specs.delete(key);
      this.calls.delete(key);
      const msg = err instanceof BusinessSpecError ? err.message : `business probe '${spec.name}': ${(err as Error).message}`;
      return { name: spec.name, ok: false, error: msg, attachments: [] };
    }
  }

  /** Stops one probe; its records still in the ring buffer are drained first. */
  removeProbe(name: string): boolean {
    const r = this.byName.get(name);
    if (!r) return false;
    for (const l of r.links) l.detach();
    this.poll();
    const key = Buffer.alloc(4);
    key.writeUInt32LE(r.id);
    this.specs.delete(key);
    this.calls.delete(key);
    this.byName.delete(name);
    this.byId.delete(r.id);
    return true;
  }

  probes(): string[] {
    return [...this.byName.keys()];
  }

  compiled(name: string): CompiledProbe | undefined {
    return this.byName.get(name)?.compiled;
  }

  /** Exact calls per running probe, counted in the kernel (also those sampled out or dropped). */
  callCounts(): Map<string, { calls: number; recorded: number }> {
    const out = new Map<string, { calls: number; recorded: number }>();
    const key = Buffer.alloc(4);
    for (const [name, r] of this.byName) {
      key.writeUInt32LE(r.id);
      const v = this.calls.lookup(key);
      out.set(name, v ? { calls: Number(this.calls.sumPerCpuU64(v, 0)), recorded: Number(this.calls.sumPerCpuU64(v, 8)) } : { calls: 0, recorded: 0 });
    }
    return out;
  }

  /** Drains pending records now (they otherwise arrive on the event loop). */
  poll(): void {
    this.rb?.consume();
  }

  stats(): Record<keyof typeof BizStat, bigint> {
    const indexes = BizStat as unknown as Record<keyof typeof BizStat, number>;
    if (!this.counters) return Object.fromEntries(Object.keys(indexes).map((k) => [k, 0n])) as Record<keyof typeof BizStat, bigint>;
    return this.counters.readCounters(indexes);
  }

  close(): void {
    this.rb?.close();
    this.rb = undefined;
    this.obj?.close();
    this.obj = undefined;
    this.byId.clear();
    this.byName.clear();
  }
}
