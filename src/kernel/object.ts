// BpfObject: one compiled .bpf.o — open, load, its programs and maps, and close(), which detaches
// every link / tc filter / cgroup attachment made through it and frees ring buffers.
import { existsSync } from 'node:fs';
import { native, type Handle, type NativeLink, type NativeProgramInfo } from './native.js';
import { BpfError, asLoadError, call } from './errors.js';
import { BpfMap } from './map.js';
import { flattenLayout, type StructLayout } from './layout.js';
import { registerForCleanup, unregisterForCleanup } from './cleanup.js';
import { ensureMounts } from './mounts.js';
import type { RingBuffer, RingBufferHost } from './ringbuf.js';

export interface Link {
  readonly description: string;
  detach(): void;
}

export interface UprobeOptions {
  binary: string;
  symbol?: string;
  offset?: number; // with symbol: added to the symbol's offset; without: file offset in the binary
  pid?: number;
  retprobe?: boolean;
  cookie?: bigint;
}

export interface TcOptions {
  ifindex?: number;
  ifname?: string;
  netns?: string; // `ip netns` name
  direction: 'ingress' | 'egress';
  priority?: number; // netlink mode only (0/absent: the kernel picks)
  handle?: number; // netlink mode only (0/absent: the kernel picks); an existing priority+handle fails with EEXIST
  /**
   * 'netlink' (default): a classic clsact filter; it would outlive a SIGKILLed process, so close()
   * and the exit handlers remove it (and the clsact qdisc if we added it).
   * 'tcx': a bpf_link (kernel >= 6.6) the kernel removes whenever our process dies, even on SIGKILL.
   */
  mode?: 'netlink' | 'tcx';
}

let runtimeReady = false;
/** Once per process: memlock to infinity (pre-5.11 kernels charge maps to it) and tracefs/bpffs mounted. */
function prepareRuntime(): void {
  if (runtimeReady) return;
  runtimeReady = true;
  native().memlock(true);
  ensureMounts();
}

class LinkImpl implements Link {
  constructor(private readonly owner: BpfObject, private handle: Handle | undefined, readonly description: string) {}
  detach(): void {
    if (!this.handle) return;
    native().detachLink(this.handle);
    this.handle = undefined;
    this.owner.forgetLink(this);
  }
}

export class Program {
  readonly name: string;
  readonly section: string;
  readonly type: number;
  readonly typeName: string;
  readonly attachTypeName: string;

  constructor(private readonly owner: BpfObject, info: NativeProgramInfo) {
    this.name = info.name;
    this.section = info.section;
    this.type = info.type;
    this.typeName = info.typeName;
    this.attachTypeName = info.attachTypeName;
  }

  attachTracepoint(category: string, event: string): Link {
    return this.link(() => native().attachTracepoint(this.owner.handle(), this.name, category, event));
  }

  attachRawTracepoint(event: string): Link {
    return this.link(() => native().attachRawTracepoint(this.owner.handle(), this.name, event));
  }

  attachUprobe(o: UprobeOptions): Link {
    if (o.symbol === undefined && o.offset === undefined) {
      throw new BpfError(`program '${this.name}': a uprobe needs a symbol or an offset in ${o.binary}`);
    }
    return this.link(() => native().attachUprobe(this.owner.handle(), this.name, o.binary, o.symbol ?? null,
      o.offset ?? null, o.pid ?? null, o.retprobe ?? false, o.cookie ?? null));
  }

  /** attachType: e.g. 'connect4', 'sock_ops', 'cgroup_inet4_connect'; defaults from the program's section. */
  attachCgroup(cgroupPath: string, attachType?: string): Link {
    return this.link(() => native().attachCgroup(this.owner.handle(), this.name, cgroupPath, attachType ?? null));
  }

  attachTc(o: TcOptions): Link {
    if (o.ifindex === undefined && o.ifname === undefined) {
      throw new BpfError(`program '${this.name}': tc attach needs ifindex or ifname`);
    }
    if (o.netns && !existsSync(`/run/netns/${o.netns}`)) {
      throw new BpfError(`program '${this.name}': network namespace '${o.netns}' does not exist (no /run/netns/${o.netns})`,
        { code: 'ENOENT' });
    }
    return this.link(() => native().attachTc(this.owner.handle(), this.name, o.ifindex ?? null, o.ifname ?? null,
      o.netns ?? null, o.direction, o.priority ?? null, o.mode ?? null, o.handle ?? null));
  }

  private link(fn: () => NativeLink): Link {
    const l = call(fn);
    return this.owner.rememberLink(new LinkImpl(this.owner, l.handle, l.description));
  }
}

export class BpfObject implements RingBufferHost {
  private h: Handle | undefined;
  private loaded = false;
  private programs = new Map<string, Program>();
  private maps = new Map<string, BpfMap>();
  private readonly links = new Set<Link>();
  private readonly ringBuffers = new Set<RingBuffer>();

  private constructor(readonly path: string, handle: Handle) {
    this.h = handle;
  }

  /** Opens (parses) an object file; nothing reaches the kernel until load(). */
  static open(path: string): BpfObject {
    const handle = call(() => native().openObject(path));
    const obj = new BpfObject(path, handle);
    registerForCleanup(obj);
    return obj;
  }

  /** Opens and loads in one step, closing the object again when loading fails. */
  static load(path: string): BpfObject {
    const obj = BpfObject.open(path);
    try {
      obj.load();
    } catch (err) {
      obj.close();
      throw err;
    }
    return obj;
  }

  /** Programs and maps as declared (before load: fds are -1). */
  describe(): ReturnType<ReturnType<typeof native>['describeObject']> {
    return call(() => native().describeObject(this.handle()));
  }

  /** Resizes a map before load (e.g. ring buffer bytes from configuration). */
  setMaxEntries(mapName: string, n: number): void {
    if (this.loaded) throw new BpfError(`map '${mapName}': cannot resize after load`);
    call(() => native().setMapMaxEntries(this.handle(), mapName, n));
  }

  load(): void {
    prepareRuntime();
    try {
      native().loadObject(this.handle());
    } catch (err) {
      throw asLoadError(err);
    }
    this.loaded = true;
    const d = native().describeObject(this.handle());
    this.programs = new Map(d.programs.map((p) => [p.name, new Program(this, p)]));
    this.maps = new Map(d.maps.map((m) => [m.name, new BpfMap(this, m)]));
  }

  program(name: string): Program {
    this.requireLoaded(`program '${name}'`);
    const p = this.programs.get(name);
    if (!p) throw new BpfError(`no program '${name}' in ${this.path} (has: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  map(name: string): BpfMap {
    this.requireLoaded(`map '${name}'`);
    const m = this.maps.get(name);
    if (!m) throw new BpfError(`no map '${name}' in ${this.path} (has: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  programNames(): string[] { return [...this.programs.keys()]; }
  mapNames(): string[] { return [...this.maps.keys()]; }

  /** The layout of `struct structName` as compiled into this object (its BTF). */
  structLayout(structName: string): StructLayout {
    const s = call(() => native().structLayout(this.handle(), structName));
    return flattenLayout(s.name, s.size, s.members);
  }

  /** Descriptions of what is attached through this object right now. */
  attachments(): string[] {
    return [...this.links].map((l) => l.description);
  }

  get closed(): boolean { return this.h === undefined; }

  /** Detaches every link, tc filter and cgroup attachment, frees ring buffers and the object. Idempotent. */
  close(): void {
    if (!this.h) return;
    for (const rb of [...this.ringBuffers]) rb.close();
    native().closeObject(this.h);
    this.h = undefined;
    this.links.clear();
    unregisterForCleanup(this);
  }

  /** @internal */
  handle(): Handle {
    if (!this.h) throw new BpfError(`BPF object ${this.path} is closed`, { code: 'EBADF' });
    return this.h;
  }
  /** @internal */
  rememberLink(l: Link): Link { this.links.add(l); return l; }
  /** @internal */
  forgetLink(l: Link): void { this.links.delete(l); }
  /** @internal */
  rememberRingBuffer(rb: RingBuffer): void { this.ringBuffers.add(rb); }
  /** @internal */
  forgetRingBuffer(rb: RingBuffer): void { this.ringBuffers.delete(rb); }

  private requireLoaded(what: string): void {
    this.handle();
    if (!this.loaded) throw new BpfError(`${what}: ${this.path} is not loaded yet (call load() first)`);
  }
}
