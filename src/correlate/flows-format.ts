// Presentation of flows: a top-like text table and JSON lines. Pure (flows in, text out).
import type { Flow } from '../model/flow.js';

export interface FlowFilter { netns?: number; pid?: number }

export function matchesFilter(f: Flow, filter: FlowFilter): boolean {
  if (filter.netns !== undefined && f.netns !== filter.netns && f.clientNetns !== filter.netns && f.serverNetns !== filter.netns) {
    return false;
  }
  if (filter.pid !== undefined && f.clientProc?.pid !== filter.pid && f.serverProc?.pid !== filter.pid) return false;
  return true;
}

export function totalBytes(f: Flow): number {
  return f.bytesClientToServer + f.bytesServerToClient;
}

/** A flow as one JSON line (bigints as decimal strings). */
export function flowToJson(f: Flow, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, ...f }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)}${units[i]}`;
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function proc(p: Flow['clientProc']): string {
  return p ? `${p.comm}/${p.pid}` : '-';
}

function fit(s: string, w: number): string {
  return s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w);
}

function errorsText(f: Flow): string {
  return Object.entries(f.errors).map(([name, n]) => `${name}×${n}`).join(' ');
}

/** The table body: flows sorted by total bytes, at most `rows` lines. `nowNs` gives durations of open flows. */
export function formatFlowTable(flows: Flow[], opts: { rows?: number; width?: number } = {}): string {
  const rows = opts.rows ?? 40;
  const width = Math.max(opts.width ?? 160, 100);
  const sorted = [...flows].sort((a, b) => totalBytes(b) - totalBytes(a));
  const epW = Math.floor((width - 70) / 2);
  const header = `${'PROTO'.padEnd(5)} ${fit('CLIENT', epW)} ${fit('SERVER', epW)} ${'C->S'.padStart(7)} ${'S->C'.padStart(7)} ${'CALLS'.padStart(9)} ${fit('CLIENT PROC', 16)} ${fit('SERVER PROC', 16)} STATE ERRORS`;
  const lines = [header];
  for (const f of sorted.slice(0, rows)) {
    const state = f.closedNs !== undefined ? 'closed' : 'open';
    lines.push([
      f.proto.padEnd(5),
      fit(endpoint(f.client.ip, f.client.port), epW),
      fit(endpoint(f.server.ip, f.server.port), epW),
      humanBytes(f.bytesClientToServer).padStart(7),
      humanBytes(f.bytesServerToClient).padStart(7),
      `${f.callsClientToServer}/${f.callsServerToClient}`.padStart(9),
      fit(proc(f.clientProc), 16),
      fit(proc(f.serverProc), 16),
      state.padEnd(5),
      errorsText(f),
    ].join(' '));
  }
  if (sorted.length > rows) lines.push(`… ${sorted.length - rows} more flows`);
  return lines.join('\n');
}
