// Packet-capture side of bench/tcp-rtt-accuracy.ts: runs tshark inside a namespace, then turns its
// tcp.analysis.ack_rtt values into per-connection RTT samples and smooths them the way the kernel does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { runProcess, type Netns } from '../../test/helpers/netns.js';

export function hasTshark(): boolean {
  return spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;
}

export interface Capture { stop(): Promise<{ dropped: number; captured: number; stderr: string }> }

/** `tshark -i IF -s 128 -w FILE` inside `ns`; resolves once tshark says it is capturing. */
export function startCapture(ns: Netns, file: string): Promise<Capture> {
  // headers are all the analysis needs: a 128-byte snap length keeps the file and the copy cost small
  const child: ChildProcess = ns.spawn('tshark', ['-i', ns.ifname, '-s', '128', '-w', file, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`tshark did not start capturing in 20 s: ${err}`)); }, 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/Capture started|Capturing on/.test(err)) {
        clearTimeout(timer);
        // "Capturing on" can come before the first packet is actually recorded (seen: the first ~60 ms missing)
        setTimeout(() => resolve({
          stop: async () => {
            child.kill('SIGINT'); // tshark flushes the file and prints its counts on SIGINT
            await exited;
            return {
              dropped: Number(/(\d+) packets? dropped/.exec(err)?.[1] ?? 0),
              captured: Number(/(\d+) packets? captured/.exec(err)?.[1] ?? NaN),
              stderr: err,
            };
          },
        }), 1000);
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); if (!/Capturing on/.test(err)) reject(new Error(`tshark exited (${code}): ${err}`)); });
  });
}

export interface AckRttSamples {
  /** RTT samples (µs) per connection, keyed by the client's port, in capture order. */
  byClientPort: Map<number, number[]>;
  /** ACKs whose acked segment was a retransmission (left out, as the kernel does: Karn's rule). */
  skippedRetrans: number;
}

/**
 * The ack_rtt samples of ACKs travelling towards `towards` ('client': ACKs sent by the server, i.e. RTT
 * samples of the client's data; 'server': the other way round) on connections to `serverPort`.
 */
export async function ackRttSamples(file: string, serverPort: number, towards: 'client' | 'server'): Promise<AckRttSamples> {
  const fields = ['frame.number', 'tcp.srcport', 'tcp.dstport', 'tcp.analysis.ack_rtt', 'tcp.analysis.acks_frame'];
  const rtts = await runProcess('tshark', ['-r', file, '-Y', `tcp.analysis.ack_rtt && tcp.port == ${serverPort}`, '-T', 'fields', '-E', 'separator=,',
    ...fields.flatMap((f) => ['-e', f])]);
  const retrans = await runProcess('tshark', ['-r', file, '-Y', 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission',
    '-T', 'fields', '-e', 'frame.number']);
  const retransFrames = new Set(retrans.stdout.split('\n').filter(Boolean).map(Number));
  const byClientPort = new Map<number, number[]>();
  let skippedRetrans = 0;
  for (const line of rtts.stdout.split('\n')) {
    if (!line) continue;
    const [, src, dst, rtt, acked] = line.split(',');
    const fromServer = Number(src) === serverPort;
    if ((towards === 'client') !== fromServer) continue;
    if (retransFrames.has(Number(acked))) { skippedRetrans++; continue; }
    const port = fromServer ? Number(dst) : Number(src);
    let xs = byClientPort.get(port);
    if (!xs) byClientPort.set(port, (xs = []));
    xs.push(Math.round(Number(rtt) * 1e6));
  }
  return { byClientPort, skippedRetrans };
}

/**
 * The kernel's tcp_rtt_estimator (net/ipv4/tcp_input.c) over a series of samples, in its integer
 * fixed point (srtt_us holds 8 x srtt, mdev_us 4 x the mean deviation). Returns what ss -ti shows:
 * srtt = srtt_us >> 3 and rttvar = mdev_us >> 2, in µs.
 */
export function kernelStyleEwma(samplesUs: number[]): { srttUs: number; rttvarUs: number } {
  let srtt = 0;
  let mdev = 0;
  for (const sample of samplesUs) {
    let m = Math.max(0, Math.round(sample));
    if (srtt !== 0) {
      m -= srtt >> 3; // error of the estimate
      srtt += m; // srtt = 7/8 srtt + 1/8 sample
      if (m < 0) {
        m = -m - (mdev >> 2);
        if (m > 0) m >>= 3; // a falling RTT moves mdev 8 x slower (the kernel's damping)
      } else {
        m -= mdev >> 2;
      }
      mdev += m; // mdev = 3/4 mdev + 1/4 |error|
    } else {
      srtt = m << 3;
      mdev = m << 1;
    }
    srtt = Math.max(1, srtt);
  }
  return { srttUs: srtt >> 3, rttvarUs: mdev >> 2 };
}

interface Segment { start: number; end: number; tUs: number; retrans: boolean }

/**
 * RTT samples rebuilt from the raw frames with the kernel's own sampling rules (tcp_clean_rtx_queue):
 * an ACK that advances snd_una yields one sample, timed against the OLDEST segment it (partly) acknowledges;
 * none if any of those segments was retransmitted (Karn). SYN and FIN count as one sequence number.
 * Sequence numbers are made relative to each direction's first one (32-bit wrap-safe).
 */
export async function kernelRuleSamples(file: string, serverPort: number, dataFrom: 'client' | 'server'): Promise<AckRttSamples> {
  const fields = ['frame.time_epoch', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.len', 'tcp.ack_raw', 'tcp.flags.syn', 'tcp.flags.fin', 'tcp.flags.ack', 'tcp.flags.reset'];
  const out = await runProcess('tshark', ['-r', file, '-Y', `tcp.port == ${serverPort}`, '-T', 'fields', '-E', 'separator=,', ...fields.flatMap((f) => ['-e', f])]);
  const on = (v: string | undefined) => v === '1' || v === 'True' || v === 'true';
  interface Dir { isn?: number; sndNxt: number; una: number; segs: Segment[] }
  const conns = new Map<number, Dir>();
  const byClientPort = new Map<number, number[]>();
  let skippedRetrans = 0;
  for (const line of out.stdout.split('\n')) {
    if (!line) continue;
    const [t, src, dst, seqRaw, len, ackRaw, syn, fin, ack, rst] = line.split(',');
    if (on(rst)) continue;
    const fromServer = Number(src) === serverPort;
    const clientPort = fromServer ? Number(dst) : Number(src);
    const tUs = Number(t) * 1e6;
    const isData = (dataFrom === 'server') === fromServer;
    let d = conns.get(clientPort);
    if (!d) conns.set(clientPort, (d = { sndNxt: 0, una: 0, segs: [] }));
    if (isData) {
      const seqLen = Number(len) + (on(syn) ? 1 : 0) + (on(fin) ? 1 : 0);
      if (d.isn === undefined) d.isn = Number(seqRaw); // normally the SYN; else the first segment captured
      if (seqLen === 0) continue;
      const start = (Number(seqRaw) - d.isn) >>> 0;
      const end = start + seqLen;
      if (start < d.sndNxt) { // a retransmission: mark what it covers, as the kernel's TCPCB_RETRANS
        for (const s of d.segs) if (s.start < end && s.end > start) s.retrans = true;
        if (end > d.sndNxt) { d.segs.push({ start: d.sndNxt, end, tUs, retrans: true }); d.sndNxt = end; }
      } else {
        d.segs.push({ start, end, tUs, retrans: false });
        d.sndNxt = end;
      }
    } else if (on(ack) && d.isn !== undefined) {
      const a = (Number(ackRaw) - d.isn) >>> 0;
      if (a <= d.una || a > d.sndNxt) continue; // duplicate / old ACK: no new data acknowledged
      const acked = d.segs.filter((s) => s.start < a);
      d.una = a;
      d.segs = d.segs.filter((s) => s.end > a).map((s) => (s.start < a ? { ...s, start: a } : s));
      if (acked.length === 0) continue;
      if (acked.some((s) => s.retrans)) { skippedRetrans++; continue; }
      let xs = byClientPort.get(clientPort);
      if (!xs) byClientPort.set(clientPort, (xs = []));
      xs.push(Math.round(tUs - acked[0]!.tUs));
    }
  }
  return { byClientPort, skippedRetrans };
}
