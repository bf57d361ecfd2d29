// Two faults overlap when they would act on the same traffic through the same kind of hook: then which one
// wins is an accident of attach order, so the second is refused with a message naming the first.
import { PACKET_KINDS, parseCidr, type FaultSpec, type Scope } from './spec.js';

const CATEGORY: Record<FaultSpec['kind'], string> = { loss: 'drop', blackhole: 'drop', request: 'request', refuse: 'refuse', tcp: 'tcp', bandwidth: 'bandwidth' };

function differ<T>(a: T | undefined, b: T | undefined): boolean {
  return a !== undefined && b !== undefined && a !== b;
}

function cidrsDisjoint(a?: string, b?: string): boolean {
  if (!a || !b) return false;
  const x = parseCidr(a)!;
  const y = parseCidr(b)!;
  if (x.family !== y.family) return true;
  const bits = Math.min(x.prefix, y.prefix);
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((x.bytes[byte]! & mask) !== (y.bytes[byte]! & mask)) return true;
  }
  return false;
}

function filtersDisjoint(a: Scope, b: Scope): boolean {
  return differ(a.localPort, b.localPort) || differ(a.remotePort, b.remotePort) || differ(a.proto, b.proto) ||
    differ(a.pid, b.pid) || cidrsDisjoint(a.localIp, b.localIp) || cidrsDisjoint(a.remoteIp, b.remoteIp) ||
    (a.direction !== undefined && b.direction !== undefined && a.direction !== 'both' && b.direction !== 'both' && a.direction !== b.direction);
}

function placesOverlap(a: Scope, b: Scope, packet: boolean): boolean {
  if (packet) {
    if ((a.netns ?? '') !== (b.netns ?? '')) return false;
    if (a.ifname && b.ifname && !a.ifname.some((i) => b.ifname!.includes(i))) return false;
    return true;
  }
  if (differ(a.netns, b.netns)) return false;
  if (a.cgroup && b.cgroup) {
    const x = a.cgroup.replace(/\/+$/, '');
    const y = b.cgroup.replace(/\/+$/, '');
    return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`); // nested cgroups share processes
  }
  return true;
}

/** Whether the two faults would act on some of the same traffic. */
export function faultsOverlap(a: FaultSpec, b: FaultSpec): boolean {
  if (CATEGORY[a.kind] !== CATEGORY[b.kind]) return false;
  const packet = PACKET_KINDS.has(a.kind);
  return placesOverlap(a.scope, b.scope, packet) && !filtersDisjoint(a.scope, b.scope);
}
