// Benchmark: socket records decoded and folded into the flow table per second, on one core, from
// synthetic ring-buffer batches laid out by the real object's BTF (struct sock_event).
//   node --import tsx bench/flows-fold.ts [--seconds 3] [--flows 500]
import { BpfObject } from '../src/kernel/index.js';
import { SockRecordView, sockLayoutFrom } from '../src/collect/sock-decoder.js';
import { encodeSockBatch, type SyntheticSockRecord } from '../src/collect/sock-encoder.js';
import { FlowTable } from '../src/correlate/flows.js';
import { join } from 'node:path';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

export function benchFlowsFold(seconds = 3, flowCount = 500): { recordsPerSec: number; wallRecordsPerSec: number; flows: number } {
  const obj = BpfObject.open(join(import.meta.dirname, '..', 'bpf', '.output', 'sock.bpf.o'));
  const st = obj.structLayout('sock_event');
  obj.close();
  const layout = sockLayoutFrom(st.size, (n) => st.fields[n]);
  // a realistic mix: request/response pairs on many connections, both ends local, 64-byte payloads
  const recs: SyntheticSockRecord[] = [];
  for (let i = 0; i < 4096; i++) {
    const f = i % flowCount;
    const clientSide = (i >> 1) % 2 === 0;
    const c = { ip: '10.0.0.1', port: 40000 + f };
    const s = { ip: '10.0.0.2', port: 8080 };
    recs.push({
      tsNs: BigInt(1e9 + i * 1000), pid: clientSide ? 100 : 200, comm: clientSide ? 'client' : 'server', netns: 4026531840,
      sockId: BigInt(0xffff888100000000 + f * 2 + (clientSide ? 0 : 1)), proto: 'tcp', family: 4,
      local: clientSide ? c : s, remote: clientSide ? s : c, kind: 'data', syscall: i % 2 ? 'write' : 'read',
      dir: i % 2 ? 'send' : 'recv', role: clientSide ? 'client' : 'server', ret: 200, payload: Buffer.alloc(64, 65),
    });
  }
  const batch = encodeSockBatch(layout, recs);
  const view = new SockRecordView(layout);
  const table = new FlowTable();
  for (let i = 0; i < 100; i++) table.foldBatch(batch, view); // warm-up (JIT)
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 50; i++) table.foldBatch(batch, view);
    n += 50 * batch.count;
    now = process.hrtime.bigint();
  }
  // CPU time of this process, not wall time: the figure is per core even on a busy machine
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  return { recordsPerSec: n / cpuSec, wallRecordsPerSec: n / (Number(now - t0) / 1e9), flows: table.size };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const r = benchFlowsFold(arg('seconds', 3), arg('flows', 500));
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(`flows fold: ${fmt(r.recordsPerSec)} records per CPU-second decoded+folded on one core ` +
    `(${fmt(r.wallRecordsPerSec)}/s wall; ${r.flows} flows)`);
}
