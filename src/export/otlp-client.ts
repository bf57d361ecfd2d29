// OTLP/HTTP transport: protobuf bodies POSTed to <endpoint>/v1/traces and <endpoint>/v1/metrics, as the
// OpenTelemetry exporters do with OTEL_EXPORTER_OTLP_ENDPOINT, with retries on transient failures.
import { postWithRetry, type PostOutcome, type RetryPolicy } from './http-post.js';

export type OtlpSignal = 'traces' | 'metrics';

/**
 * The base endpoint (http://collector:4318) -> per-signal URLs. A URL that already names a signal path
 * (…/v1/traces or …/v1/metrics) is taken as the base it belongs to, so either spelling works.
 */
export function otlpUrls(endpoint: string): Record<OtlpSignal, string> {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new Error(`OTLP endpoint '${endpoint}' is not a URL (expected e.g. http://127.0.0.1:4318)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`OTLP endpoint '${endpoint}' must be http:// or https:// (OTLP/HTTP)`);
  const base = u.pathname.replace(/\/v1\/(traces|metrics|logs)\/?$/, '').replace(/\/+$/, '');
  const at = (p: string) => `${u.origin}${base}/v1/${p}${u.search}`;
  return { traces: at('traces'), metrics: at('metrics') };
}

export interface OtlpClientOptions {
  endpoint: string;
  headers?: Record<string, string>; // e.g. an API key header of a hosted backend
  policy: RetryPolicy;
  signal?: AbortSignal;
  onRetry?: (signal: OtlpSignal, attempt: number, reason: string) => void;
}

export class OtlpClient {
  readonly urls: Record<OtlpSignal, string>;
  retries = 0;

  constructor(private readonly o: OtlpClientOptions) {
    this.urls = otlpUrls(o.endpoint);
  }

  send(signal: OtlpSignal, body: Uint8Array): Promise<PostOutcome> {
    return postWithRetry(this.urls[signal], body, {
      headers: { ...this.o.headers, 'content-type': 'application/x-protobuf', 'user-agent': 'faultlens/0.1.0' },
      policy: this.o.policy,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
      onRetry: (attempt, reason) => {
        this.retries++;
        this.o.onRetry?.(signal, attempt, reason);
      },
    });
  }
}
