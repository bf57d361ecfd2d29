// Exports of a running platform: OTLP (traces + metrics) and alert webhooks, fed by the live hub that
// every ingested batch passes through (the local agent's and remote agents' alike), so one server exports
// everything it receives. Their own counters (sent, dropped, failed) go to the Prometheus registry.
import type { Collector, MetricFamily, MetricsRegistry } from '../server/metrics.js';
import type { LiveHub } from '../server/live.js';
import { OtlpExporter, type OtlpExporterOptions } from './otlp-exporter.js';
import { WebhookNotifier, type WebhookOptions } from './webhook.js';

export { OtlpExporter } from './otlp-exporter.js';
export { WebhookNotifier, webhookSignature } from './webhook.js';

export interface ExportSettings {
  otlp?: Omit<OtlpExporterOptions, 'families' | 'log' | 'host'>;
  webhooks?: Omit<WebhookOptions, 'log'>;
}

export interface RunningExports {
  otlp?: OtlpExporter;
  webhooks?: WebhookNotifier;
  /** Lines for the startup banner. */
  banner(): string[];
  /** Flushes (bounded) and stops. */
  close(): Promise<void>;
}

function statsCollector(x: { otlp?: OtlpExporter; webhooks?: WebhookNotifier }): Collector {
  return async () => {
    const out: MetricFamily[] = [];
    if (x.otlp) {
      const s = x.otlp.stats();
      out.push(
        { name: 'faultlens_otlp_spans_sent_total', help: 'Spans delivered to the OTLP endpoint.', type: 'counter', samples: [{ value: s.spans.sent }] },
        {
          name: 'faultlens_otlp_spans_dropped_total',
          help: 'Spans not delivered: the bounded queue was full, or the batch failed after retries.',
          type: 'counter',
          samples: [
            { labels: { reason: 'queue_full' }, value: s.spans.droppedQueueFull },
            { labels: { reason: 'export_failed' }, value: s.spans.droppedFailed },
          ],
        },
        { name: 'faultlens_otlp_spans_queued', help: 'Spans waiting to be sent.', type: 'gauge', samples: [{ value: s.spans.queued }] },
        {
          name: 'faultlens_otlp_metric_exports_total',
          help: 'OTLP metric snapshots sent, by result.',
          type: 'counter',
          samples: [
            { labels: { result: 'ok' }, value: s.metricExports },
            { labels: { result: 'failed' }, value: s.metricExportsFailed },
          ],
        },
        { name: 'faultlens_otlp_retries_total', help: 'OTLP requests retried after a transient failure.', type: 'counter', samples: [{ value: s.retries }] },
      );
    }
    if (x.webhooks) {
      const s = x.webhooks.stats();
      out.push({
        name: 'faultlens_webhook_deliveries_total',
        help: 'Alert/finding webhook deliveries, by result.',
        type: 'counter',
        samples: [
          { labels: { result: 'delivered' }, value: s.delivered },
          { labels: { result: 'failed' }, value: s.failed },
          { labels: { result: 'deduplicated' }, value: s.deduplicated },
          { labels: { result: 'queue_full' }, value: s.droppedQueueFull },
        ],
      });
    }
    return out;
  };
}

export function startExports(
  settings: ExportSettings,
  ctx: { live: LiveHub; metrics?: MetricsRegistry; host: string; log?: (m: string) => void },
): RunningExports {
  const log = ctx.log ?? ((m: string) => console.error(m));
  const otlp = settings.otlp?.endpoint
    ? new OtlpExporter({
        ...settings.otlp,
        host: ctx.host,
        log: (m) => log(`faultlens: otlp: ${m}`),
        ...(ctx.metrics ? { families: () => ctx.metrics!.collect() } : {}),
      })
    : undefined;
  const webhooks = settings.webhooks?.urls.length ? new WebhookNotifier({ ...settings.webhooks, log: (m) => log(`faultlens: webhook: ${m}`) }) : undefined;
  const unsubscribe =
    otlp || webhooks
      ? ctx.live.subscribe((e) => {
          if (e.type !== 'records') return;
          if (e.table === 'requests') otlp?.addRequestRows(e.host, e.rows);
          else if (webhooks && (e.table === 'findings' || e.table === 'alerts')) webhooks.onRows(e.table, e.host, e.rows);
        })
      : () => {};
  if ((otlp || webhooks) && ctx.metrics) ctx.metrics.add(statsCollector({ ...(otlp ? { otlp } : {}), ...(webhooks ? { webhooks } : {}) }));
  return {
    ...(otlp ? { otlp } : {}),
    ...(webhooks ? { webhooks } : {}),
    banner: () => [
      ...(otlp ? [`otlp     traces -> ${otlp.urls.traces}, metrics -> ${otlp.urls.metrics}`] : []),
      ...(webhooks ? [`webhooks ${settings.webhooks!.urls.join(', ')}${settings.webhooks!.secret ? ' (HMAC-signed)' : ''}`] : []),
    ],
    async close() {
      unsubscribe();
      await Promise.all([otlp?.close(), webhooks?.close()]);
    },
  };
}
