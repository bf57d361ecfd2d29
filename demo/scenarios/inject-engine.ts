// The seam to the eBPF injection engine (issue 7). Scenarios that need packet-level faults call
// injectFault(); until the engine exists it fails loudly instead of pretending.
export interface FaultSpec {
  kind: 'packet-loss' | 'blackhole';
  scope: { netns?: string; remoteIp?: string; remotePort?: number; direction?: 'ingress' | 'egress' | 'both' };
  probability?: number; // packet loss, 0..1
  ttlS: number;
}

export interface InjectedFault {
  id: string;
  stop(): Promise<void>;
}

/** Why packet-level injection is unavailable, or undefined once the engine exists. */
export function injectionUnavailable(): string | undefined {
  return 'needs issue 7 (the eBPF injection engine, src/inject), which is not built yet';
}

export async function injectFault(spec: FaultSpec): Promise<InjectedFault> {
  throw new Error(`fault '${spec.kind}' ${injectionUnavailable()}`);
}
