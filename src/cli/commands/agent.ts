// `faultlens agent`: capture on this host and ship to a faultlens server elsewhere (scale-out: many
// agents, one or more stateless servers sharing a ClickHouse store).
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { remoteSink, startAgent } from '../agent-runtime.js';
import { untilSignal } from '../platform-flags.js';

interface AgentFlags {
  server: string;
  token?: string;
  host: string;
  payload?: string;
  interval: string;
  apm?: boolean;
}

export function register(program: Command): void {
  program
    .command('agent')
    .description('capture on this host (eBPF, needs root) and ship records to a faultlens server')
    .requiredOption('--server <url>', 'faultlens server base URL, e.g. http://10.0.0.5:7070')
    .option('--token <token>', 'bearer token the server requires (or FAULTLENS_SERVER_TOKEN)', process.env.FAULTLENS_SERVER_TOKEN)
    .option('--host <name>', 'this host\'s name in stored records', process.env.FAULTLENS_HOSTNAME ?? hostname())
    .option('--payload <bytes>', 'payload bytes captured per socket record, 0..4096 (default 512; 0 with --no-apm)')
    .option('--interval <ms>', 'how often changed flows are shipped', '1000')
    .option('--no-apm', 'flows only: no L7 requests, services or call chains (cheaper)')
    .action(async (o: AgentFlags) => {
      let url: URL;
      try {
        url = new URL(o.server);
      } catch {
        throw new Error(`--server must be a URL such as http://host:7070, got '${o.server}'`);
      }
      const agent = startAgent({
        host: o.host,
        ...(o.payload !== undefined ? { payloadBytes: Number(o.payload) } : {}),
        intervalMs: Number(o.interval),
        apm: o.apm !== false,
        sink: remoteSink(url.toString(), o.token),
      });
      const s = agent.stats();
      console.log(`faultlens agent: capturing from ${s.tracepoints} tracepoints, shipping to ${url.origin} as host '${o.host}'. Ctrl-C to stop.`);
      await untilSignal('faultlens agent', () => agent.close());
      const e = agent.stats();
      console.log(`faultlens agent: shipped ${e.flowsShipped} flow updates, ${e.requestsShipped} requests (${e.shipErrors} failed batches), ${e.records} records, ${e.drops} dropped`);
    });
}
