// Configuration: defaults < YAML file < FAULTLENS_* environment variables < command-line flags.
// Validated with zod; an error names the setting, what is wrong and where the bad value came from.
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod/v4';

export const DEFAULT_CONFIG_PATH = join(homedir(), '.faultlens', 'config.yaml');

const HttpUrl = z.string().refine((v) => {
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL');

export const ConfigSchema = z
  .object({
    hostname: z.string().min(1).max(255).default(hostname()).describe('name of this host in stored records'),
    dataDir: z.string().min(1).default(join(homedir(), '.faultlens', 'data')),
    store: z
      .object({
        url: z.string().min(1).optional().describe('duckdb:///path, a file path, or clickhouse://host:8123/db (default: DuckDB in dataDir)'),
        batchRows: z.number().int().min(1).max(1_000_000).default(5000),
        flushMs: z.number().int().min(10).max(60_000).default(1000),
        retentionHours: z.number().min(0).max(24 * 365).default(24).describe('raw rows older than this are deleted; 0 keeps everything'),
        rollupRetentionHours: z.number().min(0).max(24 * 365 * 5).default(24 * 30).describe('per-minute RED rollups older than this are deleted; 0 keeps them'),
      })
      .strict()
      .prefault({}),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(7070),
        token: z.string().min(8, 'must be at least 8 characters').optional().describe('bearer token agents must send to /api/ingest'),
      })
      .strict()
      .prefault({}),
    export: z
      .object({
        otlp: z
          .object({
            endpoint: HttpUrl.optional().describe('OTLP/HTTP base URL (e.g. http://127.0.0.1:4318): traces to /v1/traces, metrics to /v1/metrics'),
            headers: z.record(z.string(), z.string()).default({}).describe('extra request headers (e.g. an API key)'),
            metricsIntervalMs: z.number().int().min(0).max(3_600_000).default(10_000).describe('metric snapshot period; 0 sends none'),
            batchSpans: z.number().int().min(1).max(10_000).default(512),
            maxQueueSpans: z.number().int().min(1).max(1_000_000).default(20_000).describe('spans held while the endpoint is slow; more are dropped and counted'),
            flushMs: z.number().int().min(10).max(60_000).default(1000),
            timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
            retries: z.number().int().min(0).max(20).default(5),
          })
          .strict()
          .prefault({}),
        webhooks: z
          .object({
            urls: z.array(HttpUrl).max(32).default([]).describe('alert/finding webhooks (JSON POST)'),
            secret: z.string().min(8, 'must be at least 8 characters').optional().describe('HMAC-SHA256 key for the X-Faultlens-Signature header'),
            timeoutMs: z.number().int().min(100).max(120_000).default(5000),
            retries: z.number().int().min(0).max(20).default(3),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.output<typeof ConfigSchema>;

/** Every setting that an environment variable can set. */
const LEAVES: { path: string; env: string; type: 'string' | 'number' }[] = [
  { path: 'hostname', env: 'FAULTLENS_HOSTNAME', type: 'string' },
  { path: 'dataDir', env: 'FAULTLENS_DATA_DIR', type: 'string' },
  { path: 'store.url', env: 'FAULTLENS_STORE_URL', type: 'string' },
  { path: 'store.batchRows', env: 'FAULTLENS_STORE_BATCH_ROWS', type: 'number' },
  { path: 'store.flushMs', env: 'FAULTLENS_STORE_FLUSH_MS', type: 'number' },
  { path: 'store.retentionHours', env: 'FAULTLENS_STORE_RETENTION_HOURS', type: 'number' },
  { path: 'store.rollupRetentionHours', env: 'FAULTLENS_STORE_ROLLUP_RETENTION_HOURS', type: 'number' },
  { path: 'server.host', env: 'FAULTLENS_SERVER_HOST', type: 'string' },
  { path: 'server.port', env: 'FAULTLENS_SERVER_PORT', type: 'number' },
  { path: 'server.token', env: 'FAULTLENS_SERVER_TOKEN', type: 'string' },
  { path: 'export.otlp.endpoint', env: 'FAULTLENS_OTLP_ENDPOINT', type: 'string' },
  { path: 'export.webhooks.secret', env: 'FAULTLENS_WEBHOOK_SECRET', type: 'string' },
];
export const CONFIG_ENV_VARS = LEAVES.map((l) => l.env);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** Explicit file (must exist); otherwise $FAULTLENS_CONFIG, then ~/.faultlens/config.yaml if present. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Flag values by dotted setting path, e.g. { 'server.port': 8080 }; undefined values are ignored. */
  flags?: Record<string, unknown>;
  /** Flag spelling per setting path, for messages: { 'server.port': '--port' }. */
  flagNames?: Record<string, string>;
}

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const k of keys.slice(0, -1)) {
    if (typeof node[k] !== 'object' || node[k] === null || Array.isArray(node[k])) node[k] = {};
    node = node[k] as Tree;
  }
  node[keys[keys.length - 1]!] = value;
}

function leafPaths(v: unknown, prefix = ''): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [prefix];
  return Object.entries(v).flatMap(([k, x]) => leafPaths(x, prefix ? `${prefix}.${k}` : k));
}

function readFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` (line ${e.linePos[0].line})` : '';
    throw new ConfigError(`config file ${path} is not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must be a YAML mapping of settings`);
  return doc as Tree;
}

export function loadConfig(opts: LoadConfigOptions = {}): Config & { configFile?: string } {
  const env = opts.env ?? process.env;
  const merged: Tree = {};
  const sources = new Map<string, string>(); // setting path -> where its value came from

  const file = opts.configPath ?? env.FAULTLENS_CONFIG ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (file) {
    const tree = readFile(resolve(file));
    for (const p of leafPaths(tree)) sources.set(p, `config file ${file}`);
    Object.assign(merged, structuredClone(tree));
  }
  for (const leaf of LEAVES) {
    const raw = env[leaf.env];
    if (raw === undefined || raw === '') continue;
    const value = leaf.type === 'number' && /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
    setPath(merged, leaf.path, value);
    sources.set(leaf.path, `environment variable ${leaf.env}`);
  }
  for (const [path, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    setPath(merged, path, value);
    sources.set(path, `flag ${opts.flagNames?.[path] ?? path}`);
  }

  const r = ConfigSchema.safeParse(merged);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const keys = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k].join('.')) : [i.path.join('.')];
      return keys
        .map((p) => {
          const src = sources.get(p) ?? [...sources.entries()].find(([k]) => k.startsWith(`${p}.`) || p.startsWith(`${k}.`))?.[1];
          const what = i.code === 'unrecognized_keys' ? 'unknown setting' : i.message;
          return `  ${p || '(root)'}: ${what}${src ? ` (from ${src})` : ''}`;
        })
        .join('\n');
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return file ? { ...r.data, configFile: resolve(file) } : r.data;
}
