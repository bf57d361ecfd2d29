// RED as Prometheus series, for MetricsRegistry.add(): request/error counters and latency quantiles per
// endpoint and per edge. The server owns the registry; an agent with a live ApmPipeline adds this.
import type { Collector, MetricFamily } from '../server/metrics.js';
import type { RedAggregator } from './red.js';

export function redCollector(red: RedAggregator): Collector {
  return async () => {
    const fam = (name: string, help: string, type: MetricFamily['type']): MetricFamily => ({ name, help, type, samples: [] });
    const reqs = fam('faultlens_requests_total', 'L7 requests per service endpoint (server view when observed).', 'counter');
    const errs = fam('faultlens_request_errors_total', 'L7 requests that failed (5xx, protocol errors), per endpoint.', 'counter');
    const lat = fam('faultlens_request_duration_seconds', 'L7 request latency quantiles per endpoint (log-linear histogram).', 'gauge');
    const sum = fam('faultlens_request_duration_seconds_sum', 'Summed L7 request latency per endpoint.', 'counter');
    for (const e of red.endpointStats()) {
      const labels = { service: e.service, protocol: e.protocol, method: e.method, endpoint: e.endpoint };
      reqs.samples.push({ labels, value: e.count });
      errs.samples.push({ labels, value: e.errors });
      sum.samples.push({ labels, value: (e.meanMs * e.count) / 1000 });
      for (const [q, v] of [['0.5', e.p50Ms], ['0.9', e.p90Ms], ['0.99', e.p99Ms]] as const) lat.samples.push({ labels: { ...labels, quantile: q }, value: v / 1000 });
    }
    const ereqs = fam('faultlens_edge_requests_total', 'L7 requests per service-to-service edge.', 'counter');
    const eerrs = fam('faultlens_edge_request_errors_total', 'Failed L7 requests per edge.', 'counter');
    const elat = fam('faultlens_edge_request_duration_seconds', 'L7 latency quantiles per edge.', 'gauge');
    for (const e of red.edgeStats()) {
      const labels = { client: e.client, server: e.server, protocol: e.protocol };
      ereqs.samples.push({ labels, value: e.count });
      eerrs.samples.push({ labels, value: e.errors });
      for (const [q, v] of [['0.5', e.p50Ms], ['0.9', e.p90Ms], ['0.99', e.p99Ms]] as const) elat.samples.push({ labels: { ...labels, quantile: q }, value: v / 1000 });
    }
    return [reqs, errs, sum, lat, ereqs, eerrs, elat];
  };
}
