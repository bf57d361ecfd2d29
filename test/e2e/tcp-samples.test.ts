// Periodic TCP samples end to end: the agent (TCP collector -> TcpSampleRows) ships `tcp_samples` rows to a
// real faultlens server over POST /api/ingest, which stores them in DuckDB. One connection between two
// network namespaces (veth, MTU 1500) moves data for ~3 s, idles for 3 s, sends once more and closes.
// Asserted: rows for both socket ends, about one a second while data moves (the kernel's srtt and
// rtt-var, cwnd, windows, byte counters), none while the connection idles, one for its close; and the
// connection view's API returns them for the flow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { collect } from '../helpers/netns.js';
import { storedRows, withAgentServer } from '../helpers/agent-server.js';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const PORT = 8097;

const SINK = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], ${PORT})); s.listen(4)
print('ready', flush=True)
c, _ = s.accept()
while c.recv(65536): pass
c.close()
`;
// prints wall-clock ms marks: the idle window the agent must not sample
const SENDER = `
import socket, sys, time
c = socket.create_connection((sys.argv[1], ${PORT}))
chunk = b'x' * 100000
for i in range(12):
    c.sendall(chunk); time.sleep(0.25)
print('idle-from', int(time.time() * 1000), flush=True)
time.sleep(3)
print('idle-to', int(time.time() * 1000), flush=True)
c.sendall(chunk)
time.sleep(0.3)
c.close()
print('closed', int(time.time() * 1000), flush=True)
`;

interface SampleData { role: string; local: string; remote: string; sndWnd: number; rcvWnd: number; bytesAcked: number; bytesReceived: number; mss: number }

test('the agent stores periodic TCP samples of a moving connection (both ends, ~1/s), none while it idles, and its close', { skip: root ? false : 'needs root (eBPF, network namespaces)', timeout: 90_000 }, async () => {
  await withAgentServer({ 'flsink.py': SINK, 'flsender.py': SENDER }, async ({ a, b, dir, store, serverUrl, startAgent }) => {
    const agent = startAgent({ host: 'e2e-tcp-samples', intervalMs: 250, alerting: false });
    await new Promise((r) => setTimeout(r, 500));
    const sink = a.spawn('python3', [join(dir, 'flsink.py'), a.ip4], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => sink.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    const sent = await collect(b.spawn('python3', [join(dir, 'flsender.py'), a.ip4], { stdio: ['ignore', 'pipe', 'pipe'] }), 'sender');
    const mark = (k: string) => Number(new RegExp(`${k} (\\d+)`).exec(sent.stdout)![1]);
    const [idleFrom, idleTo, closed] = [mark('idle-from'), mark('idle-to'), mark('closed')];
    await new Promise((r) => setTimeout(r, 1500)); // the close's row ships with a later tick
    await agent.close();
    sink.kill('SIGKILL');

    const rows = (await storedRows<SampleData>(store, 'tcp_samples'))
      .map(({ row, data, storedMs }) => ({ r: row, d: data, ms: storedMs }))
      .filter((x) => x.d.local.endsWith(`:${PORT}`) || x.d.remote.endsWith(`:${PORT}`))
      .sort((x, y) => x.ms - y.ms);
    const ends = new Map<string, typeof rows>();
    for (const x of rows) ends.set(x.d.role, [...(ends.get(x.d.role) ?? []), x]);
    const summary = [...ends].map(([role, xs]) => `${role}: ${xs.map((x) => `${x.ms - idleFrom}ms ${x.r.state} srtt ${x.r.srtt_us}`).join(', ')}`).join('\n');
    console.log(`# ${rows.length} samples (ms relative to the idle start):\n# ${summary.replace(/\n/g, '\n# ')}`);
    assert.deepEqual([...ends.keys()].sort(), ['client', 'server'], `both ends sampled:\n${summary}`);
    const flowIds = new Set(rows.map((x) => String(x.r.flow_id)));
    assert.equal(flowIds.size, 1, `one flow id for both ends: ${[...flowIds].join(', ')}`);
    for (const [role, xs] of ends) {
      const moving = xs.filter((x) => x.ms < idleFrom);
      // ~3 s of data at about one sample a second (the first one when the connection appears)
      assert.ok(moving.length >= 2 && moving.length <= 6, `${role}: ${moving.length} samples while moving data:\n${summary}`);
      const idle = xs.filter((x) => x.ms > idleFrom + 1200 && x.ms < idleTo - 200);
      assert.deepEqual(idle.map((x) => x.ms - idleFrom), [], `${role}: no sample while the connection idles`);
      assert.ok(xs.some((x) => x.ms >= idleTo - 200), `${role}: sampled again when data moved after the idle time`);
      assert.ok(moving.every((x) => Number(x.r.srtt_us) > 0 && Number(x.r.snd_cwnd) > 0 && x.d.mss > 0 && x.d.rcvWnd > 0), `${role}: kernel figures in every sample`);
      assert.ok(xs.every((x, i) => i === 0 || x.ms - xs[i - 1]!.ms >= 700 || x.r.state !== xs[i - 1]!.r.state), `${role}: at most one sample a second unless the state changed:\n${summary}`);
      assert.ok(xs.some((x) => x.r.state !== 'ESTABLISHED' && x.ms >= closed - 500), `${role}: the close is sampled:\n${summary}`);
    }
    // the byte counters are the kernel's: the receiver got all 1.3 MB, the sender saw it acked
    // (tcp_sock.bytes_received / bytes_acked count sequence space: SYN and FIN may add one each, depending
    // on how far the close had got when the last sample was read)
    const last = (role: string) => ends.get(role)!.at(-1)!.d;
    for (const [what, v] of [['received', last('server').bytesReceived], ['acked', last('client').bytesAcked]] as const) {
      assert.ok(v >= 13 * 100_000 && v <= 13 * 100_000 + 2, `bytes ${what}: ${v}`);
    }
    // the connection view's API serves them for the flow
    const res = await fetch(`${serverUrl}/api/connections/${encodeURIComponent([...flowIds][0]!)}?from=now-5m`);
    const view = (await res.json()) as { tcpSamples: unknown[] };
    assert.equal(view.tcpSamples.length, rows.length);
  });
});
