// Alert webhooks: alerts and findings POSTed as JSON to every configured URL, once per (id, state) —
// a finding's "state" is its severity, so an escalation is sent again but a re-report is not. Deliveries
// are queued (bounded) and sent in order per URL with retries; with a secret each carries
//   X-Faultlens-Timestamp: <unix seconds>
//   X-Faultlens-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
// so a receiver can check origin and freshness (the timestamp blocks replays of old deliveries).
import { createHmac, randomUUID } from 'node:crypto';
import type { Row } from '../store/types.js';
import { within } from './batch-queue.js';
import { DEFAULT_RETRY, postWithRetry, type RetryPolicy } from './http-post.js';

export interface WebhookEvent {
  type: 'alert' | 'finding';
  id: string;
  state: string; // alerts: firing / resolved ...; findings: their severity
  severity: string;
  summary: string;
  host: string;
  time: string; // ISO 8601
  tsNs: string; // wall-clock ns, decimal
  kind?: string; // finding kind, e.g. tcp.nagle-delayed-ack
  rule?: string; // alert rule
  subject?: string;
  data?: unknown;
}

export interface WebhookOptions {
  urls: string[];
  secret?: string;
  retry?: Partial<RetryPolicy>;
  maxQueue?: number; // deliveries waiting per URL (default 1000)
  dedupeKeys?: number; // (id, state) pairs remembered (default 50 000)
  log?: (message: string) => void;
}

export interface WebhookStats {
  delivered: number;
  failed: number; // retries exhausted or a final HTTP error
  deduplicated: number;
  droppedQueueFull: number;
  pending: number;
}

/** The signature header value for a body sent at `timestamp` (what receivers recompute). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

function parseData(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** A findings / alerts row as the event a webhook receives. */
export function rowToEvent(table: 'findings' | 'alerts', host: string, row: Row): WebhookEvent {
  const tsNs = BigInt((row.ts_ns as bigint | string | number | undefined) ?? 0);
  const base = {
    id: text(row.id),
    severity: text(row.severity),
    summary: text(row.summary),
    host: text(row.host) || host,
    time: new Date(Number(tsNs / 1_000_000n)).toISOString(),
    tsNs: tsNs.toString(),
    data: parseData(row.data),
  };
  if (table === 'alerts') return { type: 'alert', state: text(row.state), rule: text(row.rule), ...base };
  return { type: 'finding', state: text(row.severity), kind: text(row.kind), subject: text(row.subject), ...base };
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

class Target {
  private chain: Promise<void> = Promise.resolve();
  pending = 0;
  constructor(readonly url: string) {}
  enqueue(job: () => Promise<void>): void {
    this.pending++;
    this.chain = this.chain.then(job).finally(() => this.pending--);
  }
  idle(): Promise<void> {
    return this.chain;
  }
}

export class WebhookNotifier {
  private readonly targets: Target[];
  private readonly seen = new Map<string, true>(); // insertion-ordered: the oldest key is forgotten first
  private readonly abort = new AbortController();
  private readonly policy: RetryPolicy;
  private readonly st = { delivered: 0, failed: 0, deduplicated: 0, droppedQueueFull: 0 };
  private readonly log: (m: string) => void;

  constructor(private readonly o: WebhookOptions) {
    for (const u of o.urls) {
      let p: URL;
      try {
        p = new URL(u);
      } catch {
        throw new Error(`webhook URL '${u}' is not a URL`);
      }
      if (p.protocol !== 'http:' && p.protocol !== 'https:') throw new Error(`webhook URL '${u}' must be http:// or https://`);
    }
    this.targets = o.urls.map((u) => new Target(u));
    this.policy = { ...DEFAULT_RETRY, timeoutMs: 5000, retries: 3, ...o.retry };
    this.log = o.log ?? ((m) => console.error(`faultlens: webhook: ${m}`));
  }

  /** Queues the event for every URL unless this (id, state) was sent before; false when skipped. */
  notify(ev: WebhookEvent): boolean {
    const key = `${ev.type}\0${ev.id}\0${ev.state}`;
    if (this.seen.has(key)) {
      this.st.deduplicated++;
      return false;
    }
    this.seen.set(key, true);
    if (this.seen.size > (this.o.dedupeKeys ?? 50_000)) this.seen.delete(this.seen.keys().next().value!);
    const body = json({ source: 'faultlens', ...ev });
    const delivery = randomUUID(); // the same across retries: receivers can de-duplicate too
    for (const t of this.targets) {
      if (t.pending >= (this.o.maxQueue ?? 1000)) {
        this.st.droppedQueueFull++;
        continue;
      }
      t.enqueue(() => this.deliver(t.url, body, ev, delivery));
    }
    return true;
  }

  /** `findings` or `alerts` rows (what the ingest path publishes). */
  onRows(table: 'findings' | 'alerts', host: string, rows: Row[]): void {
    for (const r of rows) this.notify(rowToEvent(table, host, r));
  }

  private async deliver(url: string, body: string, ev: WebhookEvent, delivery: string): Promise<void> {
    if (this.abort.signal.aborted) return void this.st.failed++;
    const ts = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'faultlens/0.1.0',
      'x-faultlens-event': ev.type,
      'x-faultlens-delivery': delivery,
      'x-faultlens-timestamp': ts,
    };
    if (this.o.secret) headers['x-faultlens-signature'] = webhookSignature(this.o.secret, ts, body);
    // any 5xx may be a receiver restarting; other 4xx will not change by asking again
    const out = await postWithRetry(url, body, { headers, policy: this.policy, signal: this.abort.signal, retryable: (s) => s >= 500 || s === 408 || s === 429 });
    if (out.ok) this.st.delivered++;
    else {
      this.st.failed++;
      this.log(`${url}: ${ev.type} ${ev.id} (${ev.state}) not delivered after ${out.attempts} attempt(s): ${out.error}`);
    }
  }

  stats(): WebhookStats {
    return { ...this.st, pending: this.targets.reduce((a, t) => a + t.pending, 0) };
  }

  /** Waits (bounded) for queued deliveries, then abandons the rest. */
  async close(timeoutMs = 5000): Promise<void> {
    await within(Promise.all(this.targets.map((t) => t.idle())), timeoutMs);
    this.abort.abort();
  }
}
