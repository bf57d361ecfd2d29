// Root-cause ranking by explainable scoring over the incident's anomaly subgraph.
//
// Why scoring rather than personalised PageRank / random walks (MicroRCA, CloudRanger): a demo-sized
// graph has tens of anomalous entities, the walk's teleport/weight knobs would need per-system tuning, and
// its scores cannot say *why*. Here each step is a rule an operator can check:
//  1. strength — every anomalous entity scores by its peak robust z (saturating), weighted per signal;
//  2. propagation — a caller's latency/errors that its callee's (or its own resource's) anomaly accounts
//     for is propagation, not origin: its score is damped and it names who explains it. For latency the
//     callee's increase must be a real share (>= 30 %) of the caller's; errors explain errors;
//  3. an edge whose client-side latency/errors rose while the callee's own (server-side) figures did not
//     is the origin: the time was lost between the two processes — network, or the callee's accept queue;
//  4. network evidence (retransmits, drops, resets on the edge) and system evidence (run-queue, IO latency,
//     listen overflows of a service) add to the edge / resource they are about, and so do diagnoser findings;
//  5. ties go to the earlier onset, then to the entity that explains more of the others;
//  6. network evidence on the edges of two or more callers into one host's services names the host.
import { describeEntity, parseEntity, servicesOf, type Entity } from '../detect/anomaly/entity.js';
import { POLICIES, type Signal } from '../detect/anomaly/signals.js';
import type { ServiceGraph } from '../detect/alerts/graph.js';
import type { Alert, Incident } from '../detect/alerts/types.js';
import type { EntityFinding, RcaCandidate, RcaResult } from './types.js';

const GOLDEN: Signal[] = ['latency', 'errors', 'rate'];
const strength = (a: Alert) => POLICIES[a.signal].weight * (1 - Math.exp(-(a.peakZ ?? 0) / 8));
const delta = (a: Alert) => Math.abs((a.peakValue ?? a.value) - (a.baseline ?? 0));

/** The service whose own behaviour an anomaly is about (an edge's is its callee: the server end). */
function subjectService(e: Entity): string | undefined {
  switch (e.kind) {
    case 'service': case 'endpoint': case 'resource': return e.service;
    case 'edge': case 'connection': return e.to;
    case 'host': return undefined;
  }
}

interface Work {
  cand: RcaCandidate;
  alerts: Alert[];
  base: number;
  bonus: number;
}

export interface RankOptions {
  findings?: EntityFinding[];
  damp?: number; // score factor of an explained (propagated) anomaly
}

export function rankRootCauses(inc: Incident, graph: ServiceGraph, o: RankOptions = {}): RcaResult {
  const damp = o.damp ?? 0.25;
  const alerts = inc.alerts;
  const byEntity = new Map<string, Alert[]>();
  for (const a of alerts) (byEntity.get(a.entity) ?? byEntity.set(a.entity, []).get(a.entity)!).push(a);

  // Server-side (own) anomalies per service, by signal class, for the propagation tests.
  const ownOf = (service: string, cls: 'latency' | 'errors'): Alert[] =>
    alerts.filter((a) => {
      const e = parseEntity(a.entity);
      if (e.kind === 'resource' && e.service === service) return true; // CPU/disk/listen queue explain both
      if ((e.kind === 'endpoint' || e.kind === 'service') && e.service === service) {
        if (cls === 'latency') return a.signal === 'latency';
        return a.signal === 'errors' || a.signal === 'rate'; // a callee that stopped answering explains errors
      }
      return false;
    });
  const edgeOrigin = new Map<string, boolean>();
  const networkOn = (from: string, to: string) => alerts.filter((a) => {
    const e = parseEntity(a.entity);
    return (e.kind === 'edge' || e.kind === 'connection') && e.from === from && e.to === to && POLICIES[a.signal].evidence === 'network';
  });

  const explainers = (a: Alert): Alert[] => {
    const e = parseEntity(a.entity);
    if (POLICIES[a.signal].evidence) return []; // evidence series are about their own subject
    const cls: 'latency' | 'errors' = a.signal === 'latency' ? 'latency' : 'errors';
    const enough = (x: Alert) => cls === 'errors' || x.signal !== 'latency' || delta(x) >= 0.3 * delta(a);
    if (e.kind === 'edge' || e.kind === 'connection') {
      if (networkOn(e.from, e.to).length) return []; // the network shows the loss itself: the edge is origin
      const own = ownOf(e.to, cls).filter(enough);
      const below = [...graph.downstream(e.to)].flatMap((s) => ownOf(s, cls)).filter(enough);
      const res = [...own, ...below];
      edgeOrigin.set(a.entity, (edgeOrigin.get(a.entity) ?? false) || res.length === 0);
      return res;
    }
    const s = subjectService(e);
    if (!s) return [];
    const res: Alert[] = [];
    if (e.kind !== 'resource') res.push(...alerts.filter((x) => parseEntity(x.entity).kind === 'resource' && subjectService(parseEntity(x.entity)) === s));
    for (const c of graph.downstream(s)) {
      res.push(...ownOf(c, cls).filter(enough));
      for (const x of alerts) { // an origin-like edge below us (network between callee and its callee, or ours)
        const xe = parseEntity(x.entity);
        if ((xe.kind === 'edge') && xe.to === c && x.signal !== 'rate' && enough(x) && (xe.from === s || graph.downstream(s).has(xe.from))) res.push(x);
      }
    }
    if (e.kind === 'service') res.push(...alerts.filter((x) => x !== a && parseEntity(x.entity).kind === 'endpoint' && subjectService(parseEntity(x.entity)) === s && x.signal === a.signal));
    return res.filter((x) => x !== a);
  };

  const work = new Map<string, Work>();
  const get = (entity: string): Work => {
    let w = work.get(entity);
    if (!w) {
      w = { cand: { entity, label: describeEntity(parseEntity(entity)), score: 0, origin: true, explainedBy: [], explains: [], onsetT: Infinity, evidence: [] }, alerts: [], base: 0, bonus: 0 };
      work.set(entity, w);
    }
    return w;
  };

  for (const [entity, as] of byEntity) {
    const w = get(entity);
    let best = 0;
    let anyOrigin = false;
    for (const a of as) {
      w.alerts.push(a);
      w.cand.onsetT = Math.min(w.cand.onsetT, a.onsetT);
      const ex = explainers(a);
      const s = strength(a);
      const origin = ex.length === 0;
      anyOrigin ||= origin;
      best = Math.max(best, origin ? s : s * damp);
      w.cand.evidence.push(`${a.signal} ${fmt(a.baseline)} -> ${fmt(a.peakValue ?? a.value)} (peak z ${(a.peakZ ?? 0).toFixed(1)}, onset ${iso(a.onsetT)})${origin ? '' : ' — propagated'}`);
      for (const x of ex) {
        if (!w.cand.explainedBy.includes(x.entity)) w.cand.explainedBy.push(x.entity);
        const xw = get(x.entity);
        if (!xw.cand.explains.includes(entity)) xw.cand.explains.push(entity);
      }
    }
    w.cand.origin = anyOrigin;
    w.base = best;
  }

  // Evidence bonuses: network evidence on an edge, system evidence on a resource, findings on anything.
  // Specificity of system evidence: when many services' run-queues (or disks) rise together the host is
  // contended and no single service's resource is the cause; the one whose excess dominates still is.
  const excess = (a: Alert) => Math.max(0, (a.peakValue ?? a.value) - (a.baseline ?? 0));
  const totalExcess = new Map<string, number>();
  for (const a of alerts) if (POLICIES[a.signal].evidence === 'system') totalExcess.set(a.signal, (totalExcess.get(a.signal) ?? 0) + excess(a));
  const damped = new Set<string>();
  for (const a of alerts) {
    const ev = POLICIES[a.signal].evidence;
    if (!ev) continue;
    const w = get(a.entity);
    if (ev === 'network') {
      w.bonus += 0.3 * strength(a);
      continue;
    }
    if (damped.has(a.entity)) continue;
    damped.add(a.entity);
    const specificity = excess(a) / (totalExcess.get(a.signal) || 1);
    // Evidence that explains no golden-signal anomaly is context, not a cause (a busy CPU nobody waits on).
    w.base *= (w.cand.explains.length ? 1 : 0.5) * (0.4 + 0.6 * specificity);
    if (specificity < 1) w.cand.evidence.push(`${a.signal} share of the incident's ${a.signal} excess: ${(specificity * 100).toFixed(0)} %`);
  }
  for (const [entity, origin] of edgeOrigin) if (origin) {
    const e = parseEntity(entity) as { from: string; to: string };
    const net = networkOn(e.from, e.to);
    if (net.length) get(entity).cand.evidence.push(`network: ${net.map((n) => n.signal).join(', ')} on the edge`);
    else {
      // Without network evidence the claim is weaker: a CPU-starved caller's own wait also lands in its
      // client-side view of the call.
      get(entity).base *= 0.6;
      get(entity).cand.evidence.push(`callee ${e.to} shows no server-side anomaly: time/errors arise between the processes (network, accept queue, or the caller's own scheduling)`);
    }
  }
  for (const f of o.findings ?? []) {
    const w = get(f.entity);
    w.bonus += 0.3;
    w.cand.evidence.push(`finding ${f.kind}: ${f.title}`);
    if (!Number.isFinite(w.cand.onsetT)) w.cand.onsetT = inc.startT;
  }
  // Network evidence names an edge, but a golden-signal edge alert may sit on the same pair: make sure the edge itself is a candidate.
  const cands = [...work.values()];
  const firstOnset = Math.min(...cands.map((w) => w.cand.onsetT).filter(Number.isFinite), inc.startT);
  for (const w of cands) {
    const early = Number.isFinite(w.cand.onsetT) ? Math.max(0, 1 - (w.cand.onsetT - firstOnset) / 30_000) : 0; // within the first 30 s
    const explainsShare = Math.min(5, w.cand.explains.length) * 0.03;
    const specific = parseEntity(w.cand.entity).kind === 'endpoint' ? 0.02 : 0;
    w.cand.score = round(w.base + w.bonus + (w.cand.origin ? 0.1 * early + explainsShare : 0) + specific);
  }
  cands.push(...hostCandidates(alerts, cands, graph));
  cands.sort((x, y) => y.cand.score - x.cand.score || x.cand.onsetT - y.cand.onsetT || y.cand.explains.length - x.cand.explains.length);
  const ranked = cands.map((w) => w.cand);
  const top = ranked[0];
  const second = ranked[1];
  const confidence = top ? round(top.score / (top.score + (second?.score ?? 0) || 1)) : 0;
  const svc = top ? subjectService(parseEntity(top.entity)) ?? servicesOf(parseEntity(top.entity), graph.hostServices)[0] : undefined;
  return {
    incidentId: inc.id,
    faultyInterface: top?.label ?? 'unknown',
    confidence,
    candidates: ranked,
    chains: svc ? graph.chainsTo(svc) : [],
    method: 'explainable scoring: anomaly strength x origin (propagation damped) + network/system/finding evidence + onset order',
  };
}

/**
 * Rule 6, the common element: network evidence (retransmits, drops, resets) on the edges of two or more
 * different callers into the services of one host says the host's network path is faulty, not one
 * connection — the host ranks just above its best such edge, naming the edges as what it explains.
 * One caller's edge alone stays an edge fault (loss between two services).
 */
function hostCandidates(alerts: Alert[], cands: Work[], graph: ServiceGraph): Work[] {
  const hostOf = new Map<string, string>();
  for (const [h, ss] of graph.hostServices) for (const s of ss) hostOf.set(s, h);
  const byHost = new Map<string, Map<string, string>>(); // host -> caller -> an edge entity
  for (const a of alerts) {
    const e = parseEntity(a.entity);
    if (e.kind !== 'edge' || POLICIES[a.signal].evidence !== 'network') continue;
    const h = hostOf.get(e.to);
    if (!h || hostOf.get(e.from) === h) continue; // traffic inside the host does not cross its network path
    (byHost.get(h) ?? byHost.set(h, new Map()).get(h)!).set(e.from, a.entity);
  }
  const out: Work[] = [];
  for (const [h, callers] of byHost) {
    if (callers.size < 2) continue;
    const edges = [...new Set(callers.values())];
    const ws = cands.filter((w) => edges.includes(w.cand.entity));
    if (!ws.length) continue;
    const best = Math.max(...ws.map((w) => w.cand.score));
    out.push({
      cand: {
        entity: `host:${h}`, label: describeEntity({ kind: 'host', host: h }), score: round(best + 0.05), origin: true, explainedBy: [], explains: edges,
        onsetT: Math.min(...ws.map((w) => w.cand.onsetT)),
        evidence: [`network evidence on the edges of ${callers.size} callers into its services: ${edges.map((x) => describeEntity(parseEntity(x))).join(', ')}`],
      },
      alerts: [], base: best, bonus: 0.05,
    });
  }
  return out;
}

const round = (v: number) => Math.round(v * 1000) / 1000;
const fmt = (v: number | undefined) => (v === undefined ? '?' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(3));
const iso = (t: number) => new Date(t).toISOString().slice(11, 19);
