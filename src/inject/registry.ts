// Faults made by any faultlens process on this host, as one JSON file each under /run/faultlens/inject, so
// that `faultlens inject ls` and `inject stop` in another process see and reach them. Files of dead owners or
// past deadlines are stale (the kernel side is a no-op by then) and are removed when read.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultSpec } from './spec.js';

export const REGISTRY_DIR = process.env.FAULTLENS_INJECT_DIR ?? '/run/faultlens/inject';

export interface FaultRecord {
  id: string;
  ownerPid: number;
  spec: FaultSpec;
  description: string;
  createdAtMs: number;  // wall clock (display)
  deadlineMs: number;   // wall clock (display); the kernel uses deadlineNs
  deadlineNs: string;   // CLOCK_MONOTONIC, as a decimal string
  attachments: string[];
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FaultRegistry {
  constructor(readonly dir = REGISTRY_DIR) {}

  write(r: FaultRecord): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.${r.id}.tmp`);
    writeFileSync(tmp, JSON.stringify(r));
    renameSync(tmp, join(this.dir, `${r.id}.json`));
  }

  remove(id: string): void {
    rmSync(join(this.dir, `${id}.json`), { force: true });
    rmSync(join(this.dir, `${id}.stop`), { force: true });
  }

  /** Live faults (owner alive, deadline ahead); stale files are deleted on the way. */
  read(nowMs = Date.now()): FaultRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: FaultRecord[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      let r: FaultRecord;
      try {
        r = JSON.parse(readFileSync(join(this.dir, n), 'utf8')) as FaultRecord;
      } catch {
        continue; // being written or corrupt: skip
      }
      if (!alive(r.ownerPid) || r.deadlineMs <= nowMs) {
        this.remove(r.id);
        continue;
      }
      out.push(r);
    }
    return out.sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  /** Asks the owner of a fault to stop it: a marker file plus SIGUSR2 (the owner's engine polls markers on it). */
  requestStop(r: FaultRecord): void {
    writeFileSync(join(this.dir, `${r.id}.stop`), '');
    process.kill(r.ownerPid, 'SIGUSR2');
  }

  stopRequested(id: string): boolean {
    try {
      readFileSync(join(this.dir, `${id}.stop`));
      return true;
    } catch {
      return false;
    }
  }
}
