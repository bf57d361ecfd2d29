// Prometheus text exposition (format 0.0.4). Series come from collectors so RED, TCP and business
// families can be added later without touching the renderer: registry.add(async () => [family, ...]).
import type { Store } from '../store/types.js';
import type { LiveHub } from './live.js';

export interface Sample {
  labels?: Record<string, string | number>;
  value: number | bigint;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

export type Collector = () => Promise<MetricFamily[]>;

const escLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function renderPrometheus(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escLabel(String(v))}"`).join(',')}}` : '';
      out.push(`${f.name}${l} ${s.value.toString()}`);
    }
  }
  return out.join('\n') + '\n';
}

export class MetricsRegistry {
  private readonly collectors: Collector[] = [];

  add(c: Collector): this {
    this.collectors.push(c);
    return this;
  }

  /** Every collector's families now (the OTLP metrics export sends the same series). */
  async collect(): Promise<MetricFamily[]> {
    return (await Promise.all(this.collectors.map((c) => c()))).flat();
  }

  async render(): Promise<string> {
    return renderPrometheus(await this.collect());
  }
}

/**
 * Flow series per edge (client, server, server port, proto) from the newest snapshot of each stored
 * flow. They are counters as long as flows stay stored; a flow removed by retention lowers the sum,
 * which Prometheus reads as a counter reset (rate() copes).
 */
export function flowCollector(store: Store): Collector {
  return async () => {
    const edges = await store.edgeTotals();
    const fam = (name: string, help: string, type: MetricFamily['type']): MetricFamily => ({ name, help, type, samples: [] });
    const bytes = fam('faultlens_flow_bytes_total', 'Bytes moved on flows, by edge and direction.', 'counter');
    const calls = fam('faultlens_flow_calls_total', 'Send-side socket calls that moved data on flows, by edge.', 'counter');
    const errors = fam('faultlens_flow_errors_total', 'Socket errors (ECONNREFUSED, ECONNRESET, ...) on flows, by edge.', 'counter');
    const flows = fam('faultlens_flows', 'Flows stored per edge.', 'gauge');
    for (const e of edges) {
      const labels = { client: e.client, server: e.server, server_port: e.serverPort, proto: e.proto };
      bytes.samples.push({ labels: { ...labels, direction: 'client_to_server' }, value: e.bytesClientToServer });
      bytes.samples.push({ labels: { ...labels, direction: 'server_to_client' }, value: e.bytesServerToClient });
      calls.samples.push({ labels, value: e.calls });
      errors.samples.push({ labels, value: e.errors });
      flows.samples.push({ labels, value: e.flows });
    }
    return [bytes, calls, errors, flows];
  };
}

export function selfCollector(store: Store, live: LiveHub): Collector {
  return async () => {
    const s = store.stats();
    return [
      { name: 'faultlens_store_written_rows_total', help: 'Rows written durably by this process.', type: 'counter', samples: [{ value: s.writtenRows }] },
      { name: 'faultlens_store_dropped_rows_total', help: 'Rows lost because their batch failed to write.', type: 'counter', samples: [{ value: s.droppedRows }] },
      { name: 'faultlens_store_pending_rows', help: 'Rows buffered and not yet durable.', type: 'gauge', samples: [{ value: s.pendingRows }] },
      { name: 'faultlens_live_subscribers', help: 'Open /api/live streams.', type: 'gauge', samples: [{ value: live.subscribers }] },
    ];
  };
}
