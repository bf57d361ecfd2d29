// The service graph the alerting and root-cause layers reason over: who calls whom (from topology edges or
// traced call chains) and which services run on which host. Undirected adjacency groups symptoms into one
// incident; the directed caller -> callee relation tells propagation from origin.
export class ServiceGraph {
  private readonly down = new Map<string, Set<string>>();
  private readonly up = new Map<string, Set<string>>();
  readonly hostServices = new Map<string, string[]>();

  constructor(edges: Iterable<readonly [string, string]> = [], hosts: Record<string, string[]> = {}) {
    for (const [a, b] of edges) this.addEdge(a, b);
    for (const [h, ss] of Object.entries(hosts)) this.hostServices.set(h, ss);
  }

  addEdge(caller: string, callee: string): void {
    if (caller === callee) return;
    (this.down.get(caller) ?? this.down.set(caller, new Set()).get(caller)!).add(callee);
    (this.up.get(callee) ?? this.up.set(callee, new Set()).get(callee)!).add(caller);
  }

  get services(): string[] {
    return [...new Set([...this.down.keys(), ...this.up.keys()])].sort();
  }

  get edges(): [string, string][] {
    return [...this.down].flatMap(([a, bs]) => [...bs].map((b) => [a, b] as [string, string]));
  }

  callees(s: string): string[] {
    return [...(this.down.get(s) ?? [])];
  }

  callers(s: string): string[] {
    return [...(this.up.get(s) ?? [])];
  }

  adjacent(a: string, b: string): boolean {
    return a === b || !!this.down.get(a)?.has(b) || !!this.up.get(a)?.has(b);
  }

  /** Services reachable downstream of s (its callees, their callees, ...), s excluded. */
  downstream(s: string): Set<string> {
    const seen = new Set<string>();
    const stack = [s];
    while (stack.length) for (const c of this.callees(stack.pop()!)) if (c !== s && !seen.has(c)) {
      seen.add(c);
      stack.push(c);
    }
    return seen;
  }

  /** Services nobody we see calls: the user-facing entry points. */
  entryPoints(): string[] {
    return this.services.filter((s) => this.callers(s).length === 0);
  }

  /** Call chains from every entry point down to s (each entry -> ... -> s), cycles cut, at most `max`. */
  chainsTo(s: string, max = 10): string[][] {
    const out: string[][] = [];
    const walk = (node: string, path: string[]) => {
      if (out.length >= max) return;
      const callers = this.callers(node).filter((c) => !path.includes(c));
      if (callers.length === 0) {
        out.push([...path].reverse());
        return;
      }
      for (const c of callers) walk(c, [...path, c]);
    };
    walk(s, [s]);
    return out;
  }
}
