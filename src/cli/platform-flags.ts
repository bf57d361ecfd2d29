// The flags shared by the commands that run the platform (server, up): one definition, one mapping
// onto config settings, so `--port` means the same everywhere and config errors name the flag.
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.js';

export interface PlatformFlags {
  host?: string;
  port?: string;
  store?: string;
  dataDir?: string;
  token?: string;
  config?: string;
  retentionHours?: string;
  otlp?: string;
  webhook?: string[];
  webhookSecret?: string;
}

const FLAG_NAMES = {
  'server.host': '--host',
  'server.port': '--port',
  'server.token': '--token',
  'store.url': '--store',
  dataDir: '--data-dir',
  'store.retentionHours': '--retention-hours',
  'export.otlp.endpoint': '--otlp',
  'export.webhooks.urls': '--webhook',
  'export.webhooks.secret': '--webhook-secret',
};

/** Numeric flags stay strings if they are not numbers, so the config validation names them. */
const num = (v: string | undefined) => (v === undefined ? undefined : /^\d+(\.\d+)?$/.test(v) ? Number(v) : v);

export function addPlatformOptions(cmd: Command): Command {
  return cmd
    .option('--host <addr>', 'address to bind (default 127.0.0.1; use 0.0.0.0 for remote agents, with --token)')
    .option('--port <n>', 'port to listen on (default 7070)')
    .option('--store <url>', 'store: clickhouse://host:8123/db, duckdb:///path/file.duckdb (default: DuckDB in the data dir)')
    .option('--data-dir <dir>', 'directory for the embedded store (default ~/.faultlens/data)')
    .option('--token <token>', 'bearer token remote agents must send to /api/ingest')
    .option('--retention-hours <n>', 'delete raw rows older than this (default 24; 0 keeps everything)')
    .option('--otlp <url>', 'export traces and metrics over OTLP/HTTP (protobuf) to this endpoint, e.g. http://127.0.0.1:4318')
    .option('--webhook <url>', 'POST alerts and findings as JSON to this URL (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--webhook-secret <secret>', 'sign webhook bodies: X-Faultlens-Signature = sha256 HMAC of "<timestamp>.<body>"')
    .option('--config <file>', 'YAML config file (default ~/.faultlens/config.yaml when it exists)')
    .addHelpText(
      'after',
      '\nSettings come from defaults < config file < FAULTLENS_* environment variables < flags.\n' +
        'Environment: FAULTLENS_SERVER_HOST, FAULTLENS_SERVER_PORT, FAULTLENS_SERVER_TOKEN, FAULTLENS_STORE_URL,\n' +
        '  FAULTLENS_DATA_DIR, FAULTLENS_STORE_RETENTION_HOURS, FAULTLENS_STORE_BATCH_ROWS, FAULTLENS_STORE_FLUSH_MS, FAULTLENS_CONFIG,\n' +
        '  FAULTLENS_OTLP_ENDPOINT, FAULTLENS_WEBHOOK_SECRET.',
    );
}

export function configFromFlags(o: PlatformFlags): Config & { configFile?: string } {
  const loadOpts: Parameters<typeof loadConfig>[0] = {
    flags: {
      'server.host': o.host,
      'server.port': num(o.port),
      'server.token': o.token,
      'store.url': o.store,
      dataDir: o.dataDir,
      'store.retentionHours': num(o.retentionHours),
      'export.otlp.endpoint': o.otlp,
      'export.webhooks.urls': o.webhook,
      'export.webhooks.secret': o.webhookSecret,
    },
    flagNames: FLAG_NAMES,
  };
  if (o.config) loadOpts.configPath = o.config;
  return loadConfig(loadOpts);
}

/** Resolves on the first SIGINT/SIGTERM, after `stop` finished (errors set a non-zero exit code). */
export function untilSignal(name: string, stop: (signal: string) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const on = (sig: string) => {
      if (stopping) return;
      stopping = true;
      console.error(`${name}: ${sig}, flushing the store and stopping`);
      stop(sig).then(resolve, (e: Error) => {
        console.error(`${name}: ${e.message}`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGINT', () => on('SIGINT'));
    process.once('SIGTERM', () => on('SIGTERM'));
  });
}
