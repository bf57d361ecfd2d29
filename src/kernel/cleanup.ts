// Detach-everything-on-exit: every open BpfObject registers here; on process exit, SIGINT, SIGTERM,
// SIGHUP and uncaught exceptions all of them are closed synchronously. Signals are then re-raised
// with the default action, so the exit status stays what the signal implies (when the application
// has its own listener for that signal, it decides, and the exit hook cleans up after it).
// SIGKILL cannot be caught: bpf_links (tracepoints, uprobes, cgroup, tcx) die with the process anyway;
// netlink tc filters would stay, which is why attachTc offers mode 'tcx'.
import { native } from './native.js';

interface Closable { close(): void }

const open = new Set<Closable>();
let installed = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function closeAllOpen(): void {
  for (const o of [...open]) {
    try { o.close(); } catch { /* keep closing the rest */ }
  }
  open.clear();
  try { native().closeAll(); } catch { /* addon not loadable: nothing was attached */ }
}

function onSignal(sig: NodeJS.Signals): void {
  // An application with its own handler shuts down its way (e.g. a final ring buffer drain);
  // the 'exit' hook still closes whatever it leaves open.
  if (process.listenerCount(sig) > 1) return;
  closeAllOpen();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', closeAllOpen);
  // only when the exception will kill the process: an app with its own handler keeps running
  process.on('uncaughtExceptionMonitor', () => { if (process.listenerCount('uncaughtException') === 0) closeAllOpen(); });
  for (const s of SIGNALS) process.on(s, onSignal);
}

export function registerForCleanup(o: Closable): void {
  install();
  open.add(o);
}

export function unregisterForCleanup(o: Closable): void {
  open.delete(o);
}

export function openCount(): number {
  return open.size;
}
