// `faultlens up` end to end: the real CLI process (agent + server + DuckDB) watches a real HTTP server and
// client on loopback; the API then shows the flow with the exact bytes, the requests with their paths,
// /metrics has RED series for them, and Ctrl-C leaves no program or link in the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { runPeer, startPeerServer } from './tcp-peer.js';
import { freePort } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const skip = process.getuid?.() !== 0 ? 'needs root' : false;

/** Programs of the socket probe loaded anywhere in the kernel (CI runs one test file at a time). */
/** Ids of the BPF programs loaded in the kernel now. */
function loadedProgramIds(): Set<number> {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' })) as { id: number }[];
  return new Set(list.map((p) => p.id));
}

/** Ids of the BPF programs a process holds open (its fds' fdinfo), so other processes' probes do not count. */
function programIdsHeldBy(pid: number): number[] {
  const ids: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.push(Number(m[1]));
    } catch {
      // fd closed meanwhile
    }
  }
  return ids;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('faultlens up: flows with exact bytes, requests with routes, RED metrics, clean exit', { skip, timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fl-up-'));
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  let held: number[] = [];
  let up: ChildProcess | undefined;
  let web: ChildProcess | undefined;
  let pair: NetnsPair | undefined;
  try {
    up = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'up', '--port', String(apiPort), '--data-dir', dataDir, '--interval', '300'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    up.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('faultlens up to print where to look', async () => (out.includes('faultlens is up') ? true : undefined), 120_000);
    assert.match(out, new RegExp(`UI\\s+${api}/`));
    held = programIdsHeldBy(up.pid!);
    assert.ok(held.length >= 10, `faultlens up holds its probes (${held.length} programs)`);

    // A real server and client, neither of them the agent's process.
    const webPort = await freePort();
    web = spawn('python3', ['-m', 'http.server', String(webPort), '--bind', '127.0.0.1'], { stdio: 'ignore', cwd: dataDir });
    await waitFor('the web server', async () => {
      execFileSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${webPort}/`]);
      return true;
    }, 10_000);
    // One connection, known bytes: curl's request and python's response sizes from curl itself.
    const stats = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{size_request} %{size_header} %{size_download} %{local_port}\n',
      `http://127.0.0.1:${webPort}/`, `http://127.0.0.1:${webPort}/missing/123`], { encoding: 'utf8' });
    // python's http.server speaks HTTP/1.0: one connection per URL; the first line is the first connection
    const [req1, hdr1, body1, port1] = stats.trim().split('\n')[0]!.split(' ').map(Number) as [number, number, number, number];
    t.diagnostic(`curl: request ${req1} B, response ${hdr1}+${body1} B from local port ${port1}`);

    let seen = '';
    const flow = await waitFor('the flow in the store', async () => {
      const r = (await (await fetch(`${api}/api/flows?port=${webPort}&limit=50`)).json()) as { flows: { client: { port: number }; server: { port: number }; bytesClientToServer: number; bytesServerToClient: number; clientProc?: { comm: string }; serverProc?: { comm: string }; closedNs?: string }[] };
      seen = JSON.stringify(r.flows.map((f) => [f.client.port, f.bytesClientToServer, f.bytesServerToClient, f.closedNs ?? 'open']));
      return r.flows.find((f) => f.client.port === port1 && f.server.port === webPort && f.closedNs !== undefined && f.bytesServerToClient >= hdr1 + body1);
    }, 40_000).catch((e: Error) => {
      throw new Error(`${e.message}; flows on port ${webPort} [client port, c->s, s->c, closed]: ${seen}`);
    });
    assert.equal(flow.bytesClientToServer, req1, 'client -> server bytes are what curl sent');
    assert.equal(flow.bytesServerToClient, hdr1 + body1, 'server -> client bytes are what curl received');
    assert.equal(flow.clientProc?.comm, 'curl');
    assert.match(flow.serverProc?.comm ?? '', /python/);

    const reqs = await waitFor('both requests in the store', async () => {
      const r = (await (await fetch(`${api}/api/records/requests?limit=500`)).json()) as { rows: { method?: string; endpoint?: string; status?: number; data?: { serverPort?: number } }[] };
      const mine = r.rows.filter((x) => x.method === 'GET' && /^\/(missing\/\{id\})?$/.test(x.endpoint ?? ''));
      return mine.some((x) => x.endpoint === '/') && mine.some((x) => x.endpoint === '/missing/{id}') ? mine : undefined;
    }, 20_000);
    assert.ok(reqs.some((x) => x.endpoint === '/missing/{id}' && Number(x.status) === 404), `404 on /missing/{id}: ${JSON.stringify(reqs)}`);
    assert.ok(reqs.some((x) => x.endpoint === '/' && Number(x.status) === 200));

    const metrics = await (await fetch(`${api}/metrics`)).text();
    assert.match(metrics, /\/missing\/\{id\}/, 'RED series for the endpoint on /metrics');

    // A hidden TCP fault between two namespace hosts (Nagle x delayed ACK, MTU 1500) becomes a stored
    // finding with its evidence, without anyone running `faultlens diagnose`.
    pair = createNetnsPair();
    const server = await startPeerServer(pair.b, ['rr-server', pair.b.ip4, '0', '200', '100']);
    const client = await runPeer(pair.a, ['rr-client', pair.b.ip4, String(server.port), '50', '100', '100', '100'], {});
    await server.done;
    t.diagnostic(`nagle client: ${client.perExchangeMs} ms per exchange`);
    const finding = await waitFor('the Nagle finding in the store', async () => {
      const r = (await (await fetch(`${api}/api/records/findings?limit=500`)).json()) as { rows: { kind: string; subject: string; data: { evidence: Record<string, unknown> } }[] };
      return r.rows.find((f) => f.kind === 'tcp.nagle-delayed-ack' && f.subject.includes(`:${client.lport}->`));
    }, 20_000);
    const ackDelay = Number(finding.data.evidence.ackDelayMs);
    assert.ok(ackDelay >= 35 && ackDelay <= 50, `stored ackDelayMs ${ackDelay}`);
  } finally {
    pair?.destroy();
    web?.kill('SIGTERM');
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up!.once('exit', r));
      up.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.equal(up?.exitCode ?? up?.signalCode, 0, 'faultlens up exits cleanly on SIGINT');
  const loaded = loadedProgramIds();
  assert.deepEqual(held.filter((id) => loaded.has(id)), [], 'no probe of faultlens up left in the kernel');
});
