// Helpers every diagnoser uses to build findings; the one place that enforces "no finding without evidence".
import type { Evidence, Finding, FindingSubject, Severity } from '../model/finding.js';
import type { Endpoint } from '../model/flow.js';

export interface FindingInput {
  kind: string;
  severity: Severity;
  title: string;
  subject: FindingSubject;
  window: { startNs: bigint; endNs: bigint };
  evidence: Evidence;
  why: string;
  fix: string;
}

/** Builds a finding with a stable id (kind + subject). Throws on empty evidence: a diagnoser bug. */
export function makeFinding(f: FindingInput): Finding {
  const figures = Object.entries(f.evidence).filter(([, v]) => v !== undefined && !(typeof v === 'number' && !Number.isFinite(v)));
  if (figures.length === 0) throw new Error(`diagnoser ${f.kind} produced a finding without evidence`);
  return { id: `${f.kind}|${subjectKey(f.subject)}`, ...f, evidence: Object.fromEntries(figures) };
}

export function subjectKey(s: FindingSubject): string {
  if (s.flow) return `flow:${s.flow.netns}:${s.flow.sockId}`;
  if (s.port) return `port:${s.port.netns}:${s.port.port}`;
  if (s.process) return `pid:${s.process.pid}`;
  return 'none';
}

export function endpointText(e: Endpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** Rounds for display in evidence (keeps 3 significant decimals for small figures). */
export function round(v: number, digits = 2): number {
  const m = 10 ** digits;
  return Math.round(v * m) / m;
}

export const msFromUs = (us: number): number => round(us / 1000, 2);
export const nsToMs = (ns: bigint): number => Number(ns) / 1e6;

/** JSON text of any record holding bigints (as decimal strings). */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Human-readable block: title line, subject, evidence figures, why, fix. */
export function formatFinding(f: Finding): string {
  const s = f.subject;
  const who = [
    s.process ? `${s.process.comm || '?'}[${s.process.pid}]` : '',
    s.flow ? `${endpointText(s.flow.local)} -> ${endpointText(s.flow.remote)} (netns ${s.flow.netns})` : '',
    s.port ? `port ${s.port.port} (netns ${s.port.netns})` : '',
  ].filter(Boolean).join('  ');
  const figures = Object.entries(f.evidence).map(([k, v]) => `${k}=${v}`).join('  ');
  return [
    `[${f.severity.toUpperCase()}] ${f.kind}: ${f.title}`,
    `  subject:  ${who}`,
    `  evidence: ${figures}`,
    `  why:      ${f.why}`,
    `  fix:      ${f.fix}`,
  ].join('\n');
}
