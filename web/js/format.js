// Small formatters shared by the pages.
export function bytes(n) {
  n = Number(n);
  if (!Number.isFinite(n)) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${u[i]}`;
}

export function count(n) {
  n = Number(n);
  if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return String(n);
}

/** ns (decimal string, CLOCK_MONOTONIC) difference as a duration. */
export function duration(fromNs, toNs) {
  const ms = Number((BigInt(toNs) - BigInt(fromNs)) / 1000000n);
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** wall-clock ns (decimal string) as local time of day. */
export function clock(ns) {
  return new Date(Number(BigInt(ns) / 1000000n)).toLocaleTimeString();
}

export function ago(ns) {
  const s = Math.max(0, Math.round((Date.now() - Number(BigInt(ns) / 1000000n)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

export function errorsTotal(f) {
  return Object.values(f.errors ?? {}).reduce((a, b) => a + b, 0);
}

export function endpoint(e) {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}
