// Agent end-to-end harness: a real faultlens server over an in-memory DuckDB store, a temp dir holding the
// test's scripts, and a network-namespace pair; agents started through it ship to the server over POST
// /api/ingest (remoteSink) and are closed before the namespaces go, whatever the test does.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withNetnsPair, type NetnsPair } from './netns.js';
import { openStore } from '../../src/store/index.js';
import { startServer } from '../../src/server/index.js';
import { remoteSink, startAgent, type AgentOptions, type RunningAgent } from '../../src/cli/agent-runtime.js';
import type { Row, Store } from '../../src/store/types.js';
import type { TableName } from '../../src/store/schema.js';

export interface AgentServerEnv extends NetnsPair {
  dir: string; // holds the scripts, by the names given
  store: Store;
  serverUrl: string;
  startAgent(o: Omit<AgentOptions, 'sink'>): RunningAgent;
}

export async function withAgentServer(scripts: Record<string, string>, fn: (env: AgentServerEnv) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-agent-e2e-'));
  for (const [name, text] of Object.entries(scripts)) writeFileSync(join(dir, name), text);
  const store = await openStore('duckdb::memory:', { retentionHours: 0 });
  const srv = await startServer({ store, port: 0 });
  const serverUrl = `http://127.0.0.1:${srv.port}`;
  const agents: RunningAgent[] = [];
  const closeAgents = async () => {
    for (const a of agents) await a.close(); // (idempotent)
  };
  try {
    await withNetnsPair(async (pair) => {
      try {
        await fn({ ...pair, dir, store, serverUrl, startAgent: (o) => agents[agents.push(startAgent({ ...o, sink: remoteSink(serverUrl) })) - 1]! });
      } finally {
        await closeAgents();
      }
    });
  } finally {
    await closeAgents();
    await srv.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every stored row of a table with its `data` parsed and its timestamp in wall-clock ms. */
export async function storedRows<D>(store: Store, table: Exclude<TableName, 'flows'>): Promise<{ row: Row; data: D; storedMs: number }[]> {
  const rows = await store.list(table, { fromNs: 0n, toNs: BigInt(Date.now() + 60_000) * 1_000_000n, limit: 10_000 });
  return rows.map((row) => ({ row, data: (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as D, storedMs: Number(BigInt(String(row.ts_ns)) / 1_000_000n) }));
}
