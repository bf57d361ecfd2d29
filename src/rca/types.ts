// Root-cause ranking results: candidates with their evidence, the faulty interface and what it hurts.
export interface RcaCandidate {
  entity: string; // entityId (endpoint, edge, service, resource, host)
  label: string; // human form
  score: number;
  origin: boolean; // not explained by an anomaly downstream of it
  explainedBy: string[]; // entities whose anomalies account for this one (when !origin)
  explains: string[]; // anomalous entities this one accounts for
  onsetT: number;
  evidence: string[]; // one line per figure / finding that supports it
}

export interface RcaResult {
  incidentId: string;
  faultyInterface: string; // label of the top candidate
  confidence: number; // 0..1: how clearly the top candidate beats the runner-up
  candidates: RcaCandidate[]; // best first
  chains: string[][]; // affected call chains: entry point -> ... -> the faulty service
  method: string;
}

/** A diagnoser finding pinned to an entity (the caller maps subjects -> services). */
export interface EntityFinding {
  entity: string;
  kind: string;
  title: string;
}
