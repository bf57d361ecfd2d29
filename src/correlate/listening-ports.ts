// TCP ports with a listener in the current network namespace (/proc/net/tcp{,6}, state 0A = LISTEN).
// Seeds the flow table's server-side guess for connections accepted before capture started.
import { readFileSync } from 'node:fs';

export function listeningTcpPorts(procNet = '/proc/net'): Set<number> {
  const ports = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`${procNet}/${file}`, 'utf8');
    } catch {
      continue; // no IPv6, or a restricted /proc: fall back to the other heuristics
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue;
      const port = parseInt(cols[1].split(':').pop() ?? '', 16);
      if (port > 0) ports.add(port);
    }
  }
  return ports;
}
