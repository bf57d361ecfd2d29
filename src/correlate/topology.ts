// The service map: services as nodes (observed processes, or external peers named by DNS name / IP),
// RED per edge client -> server. Pure: built from a RedAggregator's figures.
import type { EdgeRed, RedAggregator } from './red.js';

export interface TopologyNode {
  name: string;
  kind: 'service' | 'external';
  /** Requests it served (server view), all protocols. */
  served: number;
  errors: number;
}

export interface Topology {
  nodes: TopologyNode[];
  edges: EdgeRed[];
}

export function buildTopology(red: RedAggregator, windowSec?: number): Topology {
  const edges = red.edgeStats(windowSec);
  const nodes = new Map<string, TopologyNode>();
  const node = (name: string) => {
    let n = nodes.get(name);
    if (!n) {
      n = { name, kind: red.observed.has(name) ? 'service' : 'external', served: 0, errors: 0 };
      nodes.set(name, n);
    }
    return n;
  };
  for (const e of edges) {
    node(e.client);
    const s = node(e.server);
    s.served += e.count;
    s.errors += e.errors;
  }
  return { nodes: [...nodes.values()].sort((a, b) => a.name.localeCompare(b.name)), edges };
}

/** "a -> b (http1)" lines with RED figures, for the CLI. */
export function formatEdges(edges: EdgeRed[]): string {
  const rows = edges.map((e) => [
    `${e.client} -> ${e.server}`, e.protocol, String(e.count), e.ratePerSec.toFixed(1), `${(e.errorRate * 100).toFixed(1)}%`,
    e.p50Ms.toFixed(2), e.p90Ms.toFixed(2), e.p99Ms.toFixed(2), e.side,
  ]);
  return table(['EDGE', 'PROTO', 'REQS', 'RATE/s', 'ERR', 'P50ms', 'P90ms', 'P99ms', 'VIEW'], rows);
}

export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 || i === 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
