// Store + server from a Config: what `faultlens server` runs, and what `faultlens up` runs next to the agent.
import type { Config } from '../config.js';
import { startExports, type RunningExports } from '../export/index.js';
import { describeStoreUrl, openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { startServer, type RunningServer } from './index.js';
import { LiveHub } from './live.js';

export interface Platform {
  store: Store;
  server: RunningServer;
  live: LiveHub;
  /** OTLP export and alert webhooks (when configured), fed by everything ingested. */
  exports: RunningExports;
  /** Human lines saying where to look (UI, API, metrics, store). */
  banner(): string[];
  /** Stops the server, then flushes and closes the store. */
  close(): Promise<void>;
}

export async function startPlatform(cfg: Config, opts: { live?: LiveHub; log?: (m: string) => void } = {}): Promise<Platform> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const where = describeStoreUrl(cfg.store.url, cfg.dataDir);
  const store = await openStore(cfg.store.url, {
    dataDir: cfg.dataDir,
    batch: { maxRows: cfg.store.batchRows, maxDelayMs: cfg.store.flushMs },
    retentionHours: cfg.store.retentionHours,
    rollupRetentionHours: cfg.store.rollupRetentionHours,
    onError: (e) => log(`faultlens: store: ${e.message}`),
  });
  let server: RunningServer;
  try {
    const so: Parameters<typeof startServer>[0] = { store, host: cfg.server.host, port: cfg.server.port, log: (m) => log(`faultlens: server: ${m}`) };
    if (cfg.server.token) so.token = cfg.server.token;
    if (opts.live) so.live = opts.live;
    server = await startServer(so);
  } catch (e) {
    await store.close();
    throw e;
  }
  let exports: RunningExports;
  try {
    exports = startExports(exportSettings(cfg), { live: server.live, metrics: server.metrics, host: cfg.hostname, log });
  } catch (e) {
    await server.close();
    await store.close();
    throw e;
  }
  const loopback = /^(127\.|::1$|localhost$)/.test(cfg.server.host);
  return {
    store,
    server,
    live: server.live,
    exports,
    banner: () => [
      `UI       ${server.url}/`,
      `API      ${server.url}/api  (OpenAPI: ${server.url}/api/openapi.json)`,
      `metrics  ${server.url}/metrics`,
      `ingest   POST ${server.url}/api/ingest${cfg.server.token ? ' (bearer token required)' : loopback ? '' : '  WARNING: no token and not bound to loopback: anyone who can reach it can write'}`,
      ...exports.banner(),
      `store    ${where.engine} ${where.target} (flush ≤ ${cfg.store.flushMs} ms or ${cfg.store.batchRows} rows; retention ${cfg.store.retentionHours ? `${cfg.store.retentionHours} h` : 'off'}, RED rollups ${cfg.store.rollupRetentionHours ? `${cfg.store.rollupRetentionHours} h` : 'kept'})`,
    ],
    async close() {
      await exports.close(); // bounded: an unreachable endpoint delays shutdown by seconds, not forever
      await server.close();
      await store.close();
    },
  };
}

function exportSettings(cfg: Config): Parameters<typeof startExports>[0] {
  const o = cfg.export.otlp;
  const w = cfg.export.webhooks;
  return {
    ...(o.endpoint
      ? {
          otlp: {
            endpoint: o.endpoint,
            headers: o.headers,
            metricsIntervalMs: o.metricsIntervalMs,
            batchSpans: o.batchSpans,
            maxQueueSpans: o.maxQueueSpans,
            flushMs: o.flushMs,
            retry: { timeoutMs: o.timeoutMs, retries: o.retries },
          },
        }
      : {}),
    ...(w.urls.length ? { webhooks: { urls: w.urls, ...(w.secret ? { secret: w.secret } : {}), retry: { timeoutMs: w.timeoutMs, retries: w.retries } } } : {}),
  };
}
