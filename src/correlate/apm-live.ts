// Live APM capture: the socket collector (payload heads), optionally the TCP collector (per-request TCP
// snapshot) and the TLS uprobes (plaintext of OpenSSL users), feeding one ApmPipeline on a timer.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod/v4';
import { SockCollector } from '../collect/sock-collector.js';
import { TcpCollector } from '../collect/tcp-collector.js';
import type { RequestRecord } from '../model/request.js';
import { ApmPipeline } from './apm.js';
import { TcpTableSource } from './request-tcp.js';
import { TlsCollector, type TlsEvent } from '../collect/tls-collector.js';
import type { SocketEvent } from '../collect/sock-event.js';
import type { SockRecordView } from '../collect/sock-decoder.js';
import type { RecordBatch } from '../kernel/index.js';
import type { TcpEvent } from '../model/tcp.js';
import { TlsSocketJoin } from './tls-join.js';
import type { ServiceMapping } from './services.js';

export interface ApmCaptureOptions {
  payloadBytes?: number; // default 1024: enough for request lines and the propagation headers
  tcp?: boolean; // attach the TCP collector for per-request srtt/retransmits (default true; degrades to off)
  tls?: boolean; // attach the OpenSSL uprobes (default true; degrades to off)
  mappings?: ServiceMapping[];
  tickMs?: number; // default 200
  settleMs?: number; // a parentless record waits this long for a parent (default 1000)
  filterPid?: number;
  /** Capture this process's own sockets too (tests that are their own clients); default false. */
  includeSelf?: boolean;
  onRecords: (records: RequestRecord[]) => void;
  onWarning?: (message: string) => void;
  /** Raw batches of the same socket collector (the agent folds them into flows: one probe, two uses). */
  onSockBatch?: (batch: RecordBatch, view: SockRecordView) => void;
  /** TCP events of the same TCP collector (setsockopt, retransmits, resets ...: the diagnosers' input). */
  onTcpEvents?: (events: TcpEvent[]) => void;
}

export interface ApmCapture {
  pipeline: ApmPipeline;
  sock: SockCollector;
  tcp?: TcpCollector;
  tls?: TlsCollector;
  tlsJoin: TlsSocketJoin;
  /** Drains, links and emits now. */
  tick(): void;
  /** Detaches everything; emits what the close completes. */
  stop(): void;
}

const MappingSchema = z.array(z.object({
  name: z.string().min(1),
  comm: z.string().optional(),
  exe: z.string().optional(),
  cmdline: z.string().optional(),
  cgroup: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
}).strict());

/** A YAML/JSON file: a list of {name, comm?, exe?, cmdline?, cgroup?, port?} (or {services: [...]}). */
export function loadServiceMappings(path: string): ServiceMapping[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`service map ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  const list = doc && typeof doc === 'object' && !Array.isArray(doc) && 'services' in doc ? (doc as { services: unknown }).services : doc;
  const r = MappingSchema.safeParse(list);
  if (!r.success) throw new Error(`service map ${path}: ${r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return r.data as ServiceMapping[];
}

export function startApmCapture(opts: ApmCaptureOptions): ApmCapture {
  const warn = opts.onWarning ?? ((m: string) => console.error(`faultlens: ${m}`));
  let tcp: TcpCollector | undefined;
  if (opts.tcp !== false) {
    try {
      tcp = new TcpCollector(opts.onTcpEvents ? { onEvents: opts.onTcpEvents } : {}).start();
      for (const w of tcp.warnings) warn(`tcp: ${w}`);
    } catch (e) {
      warn(`TCP state per request is off: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const pipeline = new ApmPipeline({
    ...(tcp ? { tcp: new TcpTableSource(tcp) } : {}),
    ...(opts.mappings ? { mappings: opts.mappings } : {}),
    linker: { settleNs: BigInt(opts.settleMs ?? 1000) * 1_000_000n },
  });
  const tlsJoin = new TlsSocketJoin();
  // Both ring buffers are drained into queues and dispatched merged by time: plaintext must meet its
  // socket after the socket's announcement and before its close, whatever order the buffers drain in.
  let sockQ: SocketEvent[] = [];
  let tlsQ: TlsEvent[] = [];
  let sock: SockCollector;
  try {
    sock = SockCollector.start({
      payloadBytes: opts.payloadBytes ?? 1024,
      ...(opts.filterPid ? { filterPid: opts.filterPid } : {}),
      ...(opts.includeSelf ? { ignoreSelf: false } : {}),
      onEvent: (ev) => { sockQ.push(ev); },
      ...(opts.onSockBatch ? { onBatch: opts.onSockBatch } : {}),
      onWarning: warn,
    });
  } catch (e) {
    tcp?.close(); // nothing stays attached when the capture cannot start
    throw e;
  }
  let tls: TlsCollector | undefined;
  if (opts.tls !== false) {
    try {
      tls = TlsCollector.start({
        onEvent: (t) => { tlsQ.push(t); },
        onWarning: warn,
        payloadBytes: opts.payloadBytes ?? 1024,
        ...(opts.filterPid ? { filterPid: opts.filterPid } : {}),
        ...(opts.includeSelf ? { ignoreSelf: false } : {}),
      });
    } catch (e) {
      warn(`HTTPS plaintext capture is off: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  // plaintext waits until the socket stream has passed its time (the socket ring may lag under load)
  let sockWatermark = 0n;
  const dispatch = (final = false) => {
    sock.drain();
    tls?.drain();
    const a = sockQ;
    sockQ = [];
    for (const ev of a) if (ev.tsNs > sockWatermark) sockWatermark = ev.tsNs;
    const stale = process.hrtime.bigint() - 2_000_000_000n; // a quiet socket ring must not hold plaintext forever
    let ready = tlsQ;
    tlsQ = [];
    if (!final) {
      const keep = ready.filter((t) => t.tsNs > sockWatermark && t.tsNs > stale);
      if (keep.length) {
        ready = ready.filter((t) => !(t.tsNs > sockWatermark && t.tsNs > stale));
        tlsQ = keep;
      }
    }
    const b = ready;
    let j = 0;
    for (const ev of a) {
      for (; j < b.length && b[j]!.tsNs < ev.tsNs; j++) plaintext(b[j]!);
      tlsJoin.observe(ev);
      pipeline.onEvent(ev);
    }
    for (; j < b.length; j++) plaintext(b[j]!);
  };
  const plaintext = (t: TlsEvent) => {
    const ev = tlsJoin.join(t);
    if (ev) pipeline.onPlaintext(ev);
  };
  const tick = () => {
    dispatch();
    const out = pipeline.tick();
    if (out.length) opts.onRecords(out);
  };
  const timer = setInterval(tick, opts.tickMs ?? 200);
  let stopped = false;
  return {
    pipeline, sock, tlsJoin, ...(tcp ? { tcp } : {}), ...(tls ? { tls } : {}),
    tick,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      dispatch(true);
      tls?.close();
      sock.close();
      tcp?.close();
      const out = pipeline.finish();
      if (out.length) opts.onRecords(out);
    },
  };
}
