// A diagnosis: what is wrong, where, when, the figures that prove it, why it matters and the fix.
// Produced by the pure diagnosers in src/detect/, consumed by the CLI, the server and RCA.
import type { Endpoint } from './flow.js';

export type Severity = 'info' | 'warning' | 'critical';

/** Who a finding is about; at least one of the three is set. */
export interface FindingSubject {
  process?: { pid: number; comm: string };
  flow?: { netns: number; sockId: string; local: Endpoint; remote: Endpoint };
  port?: { netns: number; port: number };
}

/** Evidence: named figures (units in the name: ...Ms, ...Bytes, ...Pct, ...PerSec). Never empty. */
export type Evidence = Record<string, number | string | boolean>;

export interface Finding {
  id: string; // stable for the same fault on the same subject, so live updates replace rather than repeat
  kind: string; // e.g. 'tcp.nagle-delayed-ack'
  severity: Severity;
  title: string; // one line, with the key figure
  subject: FindingSubject;
  window: { startNs: bigint; endNs: bigint }; // CLOCK_MONOTONIC
  evidence: Evidence;
  why: string; // why it matters
  fix: string; // what to change
}
