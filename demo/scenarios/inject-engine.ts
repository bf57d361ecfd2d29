// The seam between the demo's scenarios and the eBPF injection engine (src/inject). One engine per process,
// created on first use: its faults are tcx/cgroup bpf_links owned by this process (gone with it, even on
// SIGKILL), carry an in-kernel deadline, and are listed in the shared registry so that
// `faultlens inject ls|stop` in another shell sees and reaches them.
import { existsSync } from 'node:fs';
import { INJECT_OBJECT, InjectEngine, type InjectEvent, type FaultStats } from '../../src/inject/index.js';

export interface InjectedFault {
  id: string;
  description: string;
  /** Wall-clock ms when the programs were attached (the fault acts from then on). */
  activeAtMs: number;
  /** Detaches the fault; safe to call twice or after it expired / was stopped from outside. */
  stop(): Promise<void>;
  /** In-kernel counters (packets seen / acted on) while the fault is attached, else the last ones read. */
  stats(): FaultStats | undefined;
  /** How and when the fault ended (undefined while active). */
  ended(): { how: 'stopped' | 'expired'; atMs: number } | undefined;
}

let engine: InjectEngine | undefined;
let sink: ((e: InjectEvent) => void) | undefined;
const endings = new Map<string, { how: 'stopped' | 'expired'; atMs: number }>();

/** Where inject / stop / expiry events go besides this module (e.g. the store's faults table). */
export function onInjectEvent(fn: ((e: InjectEvent) => void) | undefined): void {
  sink = fn;
}

/** Why eBPF injection cannot run here (checked before a scenario starts its load), or undefined. */
export function injectionUnavailable(): string | undefined {
  if (process.geteuid?.() !== 0) return 'needs root (eBPF fault injection)';
  if (!existsSync(INJECT_OBJECT)) return `needs the eBPF injection object ${INJECT_OBJECT} (scripts/build.sh builds it)`;
  return undefined;
}

function getEngine(): InjectEngine {
  if (engine) return engine;
  // the native addon loads lazily, at the first BPF object: importing this module stays cheap
  engine = new InjectEngine({
    onEvent: (e) => {
      if (e.type !== 'injected') endings.set(e.fault.id, { how: e.type, atMs: e.atMs });
      sink?.(e);
    },
  });
  return engine;
}

/**
 * Injects a fault (a src/inject FaultSpec: kind, scope, ttlSec, ...). The TTL is the safety net: the kernel
 * ignores the fault after it even if this process dies; the scenario's revert normally stops it earlier.
 */
export async function injectFault(spec: Record<string, unknown>): Promise<InjectedFault> {
  const e = getEngine();
  const f = e.inject(spec);
  let last = f.stats;
  const stats = (): FaultStats | undefined => {
    const now = e.stats(f.id);
    if (now) last = now;
    return last;
  };
  return {
    id: f.id,
    description: f.description,
    activeAtMs: f.createdAtMs,
    stats,
    ended: () => endings.get(f.id),
    stop: async () => {
      stats(); // keep the final counters for the evidence
      if (endings.has(f.id)) return;
      try {
        e.stop(f.id);
      } catch {
        /* already gone: expired, or stopped by `faultlens inject stop` */
      }
    },
  };
}

/** Detaches whatever is still injected and drops the engine (end of a scenario run). */
export function closeInjection(): void {
  engine?.close();
  engine = undefined;
  sink = undefined;
}
