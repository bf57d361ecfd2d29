// Small helpers scenarios share: calling a service's admin endpoint, running helper processes inside a
// demo namespace (tracked in the state file so `demo down` stops them), reading kernel counters in a netns.
import { request } from 'node:http';
import { join } from 'node:path';
import { serviceByName, serviceIp } from '../topology.js';
import { spawnTracked, stopTracked, serviceCgroup } from '../procs.js';
import { loadState, updateState, type TrackedProc } from '../state.js';
import { DEMO_SRC } from '../paths.js';
import { run } from '../sh.js';

/** POSTs to http://SERVICE_IP:PORT/path (JSON body or none) and returns the parsed reply. */
export function adminPost(service: string, path: string, body?: unknown, timeoutMs = 3000): Promise<unknown> {
  const port = serviceByName(service).ports[0]!;
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const req = request(
      { host: serviceIp(service), port, method: 'POST', path, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 500) >= 400) return reject(new Error(`${service} ${path}: HTTP ${res.statusCode} ${text}`));
          try {
            resolve(text ? JSON.parse(text) : undefined);
          } catch {
            resolve(text);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${service} ${path}: timeout`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Starts a helper process in a namespace (optionally in a service's cgroup) and tracks it. */
export function startHelper(name: string, ns: string, cmd: string, args: string[], cgroupOf?: string): TrackedProc {
  const proc = spawnTracked({ name, ns, cmd, args, cgroup: cgroupOf ? serviceCgroup(cgroupOf) : undefined });
  updateState((s) => {
    s.procs.push(proc);
  });
  return proc;
}

export function startClient(name: string, ns: string, args: string[]): TrackedProc {
  return startHelper(name, ns, process.execPath, [join(DEMO_SRC, 'scenarios', 'clients.js'), ...args]);
}

/** Stops every tracked helper whose name starts with prefix. */
export async function stopHelpers(prefix: string): Promise<void> {
  const procs = loadState()?.procs.filter((p) => p.name.startsWith(prefix)) ?? [];
  await Promise.all(procs.map((p) => stopTracked(p, 1000)));
  updateState((s) => {
    s.procs = s.procs.filter((p) => !p.name.startsWith(prefix));
  });
}

/** A TcpExt/Tcp counter inside a namespace (nstat -az prints absolute values). */
export async function nstat(ns: string, counter: string): Promise<number> {
  const out = await run('ip', ['netns', 'exec', ns, 'nstat', '-az', counter]);
  const m = new RegExp(`^${counter}\\s+(\\d+)`, 'm').exec(out);
  return m ? Number(m[1]) : 0;
}

export async function ssInfo(ns: string, filter: string): Promise<string> {
  return run('ip', ['netns', 'exec', ns, 'ss', '-tin', ...filter.split(' ')]);
}
