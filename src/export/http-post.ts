// One POST with a timeout, retried with exponential backoff (jittered, capped, honouring Retry-After) on
// what the OTLP/HTTP spec calls transient: network errors, timeouts, 429, 502, 503, 504 (and 408).
// Anything else is final. Used by the OTLP client and the webhooks alike.

export interface RetryPolicy {
  retries: number; // attempts after the first
  initialBackoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number; // per attempt
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, initialBackoffMs: 500, maxBackoffMs: 10_000, timeoutMs: 10_000 };

export interface PostOutcome {
  ok: boolean;
  attempts: number;
  status?: number; // last HTTP status, when there was one
  error?: string; // why it failed (last attempt)
}

const RETRYABLE = new Set([408, 429, 502, 503, 504]);

/** Seconds or an HTTP date; undefined when absent or unparsable. */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface PostOptions {
  headers: Record<string, string>;
  policy: RetryPolicy;
  /** Aborting stops waiting between attempts and cancels the one in flight (shutdown). */
  signal?: AbortSignal;
  /** HTTP statuses worth another attempt (default: the OTLP set 408, 429, 502, 503, 504). */
  retryable?: (status: number) => boolean;
  onRetry?: (attempt: number, reason: string, delayMs: number) => void;
}

export async function postWithRetry(url: string, body: Uint8Array | string, o: PostOptions): Promise<PostOutcome> {
  const { policy } = o;
  let last: PostOutcome = { ok: false, attempts: 0 };
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (o.signal?.aborted) return { ...last, attempts: attempt, error: last.error ?? 'aborted' };
    let retryable = true;
    let hinted: number | undefined;
    try {
      const signal = o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(policy.timeoutMs)]) : AbortSignal.timeout(policy.timeoutMs);
      const res = await fetch(url, { method: 'POST', headers: o.headers, body: body as string | Uint8Array<ArrayBuffer>, signal });
      const text = await res.text().catch(() => '');
      if (res.ok) return { ok: true, attempts: attempt + 1, status: res.status };
      retryable = o.retryable ? o.retryable(res.status) : RETRYABLE.has(res.status);
      hinted = retryAfterMs(res.headers.get('retry-after'));
      last = { ok: false, attempts: attempt + 1, status: res.status, error: `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}` };
    } catch (e) {
      const err = e as Error;
      const reason = err.name === 'TimeoutError' ? `timed out after ${policy.timeoutMs} ms` : ((err.cause as Error | undefined)?.message ?? err.message);
      last = { ok: false, attempts: attempt + 1, error: reason };
    }
    if (!retryable || attempt === policy.retries) return last;
    const backoff = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** attempt);
    const delay = Math.min(policy.maxBackoffMs, hinted ?? backoff * (0.5 + Math.random() / 2)); // jitter: no herd of agents
    o.onRetry?.(attempt + 1, last.error ?? '', delay);
    await sleep(delay, o.signal);
  }
  return last;
}
