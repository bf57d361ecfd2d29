// The state file: every namespace, link, file and process `demo up` created, so `demo down` (or the next
// `demo up` after a crash) can remove exactly those and nothing else.
import { readFileSync, writeFileSync, renameSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { rt, runtimeDir } from './paths.js';

export interface TrackedProc {
  name: string; // service name, or 'load', 'hog:catalog', ...
  pid: number; // leader of its own process group (spawned detached)
  startTime: number; // /proc/PID/stat field 22: guards against killing a recycled pid
  ns?: string;
  cmd: string;
  log?: string;
}

export interface DemoState {
  version: 1;
  startedAt: string;
  runtimeDir: string;
  namespaces: string[];
  links: string[]; // root-namespace links (bridge, veths)
  files: string[]; // files/dirs outside the runtime dir (/etc/netns/fl-*)
  cgroups: string[];
  procs: TrackedProc[];
  ready: boolean;
}

export const stateFile = (): string => rt('state.json');

export function emptyState(): DemoState {
  return { version: 1, startedAt: new Date().toISOString(), runtimeDir: runtimeDir(), namespaces: [], links: [], files: [], cgroups: [], procs: [], ready: false };
}

export function loadState(): DemoState | undefined {
  if (!existsSync(stateFile())) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile(), 'utf8')) as DemoState;
  } catch {
    return undefined; // a torn write after a crash: teardown falls back to the topology's names
  }
}

/** Atomic write (rename) so a crash never leaves half a state file. */
export function saveState(s: DemoState): void {
  mkdirSync(runtimeDir(), { recursive: true });
  const tmp = stateFile() + '.tmp';
  writeFileSync(tmp, JSON.stringify(s, null, 2));
  renameSync(tmp, stateFile());
}

export function clearState(): void {
  rmSync(stateFile(), { force: true });
}

/** Read-modify-write helper for processes that add/remove tracked things while the demo runs. */
export function updateState(fn: (s: DemoState) => void): DemoState {
  const s = loadState() ?? emptyState();
  fn(s);
  saveState(s);
  return s;
}
