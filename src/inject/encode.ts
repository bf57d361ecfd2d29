// FaultSpec -> the bytes of `struct inject_fault` (bpf/inject.h), placed by the field offsets of the loaded
// object's own BTF, so the header is the only place the layout is written down.
import type { StructLayout } from '../kernel/index.js';
import { burstBytes, parseCidr, type FaultSpec } from './spec.js';

export const KIND_CODE = { loss: 1, blackhole: 2, refuse: 3, request: 4, tcp: 5, bandwidth: 6 } as const;
const DIR = { ingress: 1, egress: 2, both: 3 } as const;
const PROTO = { tcp: 6, udp: 17 } as const;

export interface EncodeContext {
  deadlineNs: bigint;  // CLOCK_MONOTONIC
  netnsIno: number;    // 0 = any
}

export function encodeFault(layout: StructLayout, spec: FaultSpec, ctx: EncodeContext): Buffer {
  const b = Buffer.alloc(layout.size);
  const field = (name: string) => {
    const f = layout.fields[name];
    if (!f) throw new Error(`struct inject_fault has no field '${name}' (bpf/inject.h and src/inject/encode.ts disagree)`);
    return f;
  };
  const put = (name: string, v: number | bigint) => {
    const f = field(name);
    if (f.size === 8) b.writeBigUInt64LE(BigInt(v), f.offset);
    else if (f.size === 4) b.writeUInt32LE(Number(v) >>> 0, f.offset);
    else if (f.size === 2) b.writeUInt16LE(Number(v), f.offset);
    else b.writeUInt8(Number(v), f.offset);
  };
  const putBytes = (name: string, src: Buffer) => {
    const f = field(name);
    src.copy(b, f.offset, 0, Math.min(src.length, f.size));
  };
  const s = spec.scope;
  put('deadline_ns', ctx.deadlineNs);
  put('kind', KIND_CODE[spec.kind]);
  put('netns_ino', ctx.netnsIno);
  put('tgid', s.pid ?? 0);
  put('proto', s.proto ? PROTO[s.proto] : spec.kind === 'request' || spec.kind === 'tcp' ? PROTO.tcp : 0);
  put('direction', DIR[s.direction ?? 'both']);
  put('local_port', s.localPort ?? 0);
  put('remote_port', s.remotePort ?? 0);
  let family = 0;
  for (const [side, text] of [['local', s.localIp], ['remote', s.remoteIp]] as const) {
    if (!text) continue;
    const c = parseCidr(text)!;
    family = c.family;
    putBytes(`${side}_ip`, c.bytes);
    // an IPv6 scope must never match IPv4 traffic: the kernel side treats prefixes > 32 as IPv6-only
    put(`${side}_prefix`, c.prefix);
  }
  put('family', family);
  switch (spec.kind) {
    case 'loss':
      put('prob', Math.min(0xffffffff, Math.round((spec.percent / 100) * 0x100000000)));
      break;
    case 'refuse':
      put('mode', spec.errno === 'ECONNREFUSED' ? 1 : 0);
      break;
    case 'request': {
      const pattern = Buffer.from(`${spec.method} ${spec.path}`, 'latin1');
      put('pattern_len', pattern.length);
      put('pattern_prefix', spec.prefix ? 1 : 0);
      put('mode', spec.action === 'reset' ? 1 : 0);
      putBytes('pattern', pattern);
      break;
    }
    case 'tcp':
      put('nagle', spec.nagle ? 1 : 0);
      put('delack_max_us', Math.round((spec.delackMaxMs ?? 0) * 1000));
      put('rto_min_us', Math.round((spec.rtoMinMs ?? 0) * 1000));
      put('window_clamp', spec.windowClamp ?? 0);
      put('sndcwnd_clamp', spec.cwndClamp ?? 0);
      put('rcvbuf', spec.rcvbuf ?? 0);
      put('sndbuf', spec.sndbuf ?? 0);
      put('max_pacing_rate', spec.pacingRate ?? 0);
      if (spec.congestion) putBytes('congestion', Buffer.from(spec.congestion, 'latin1'));
      break;
    case 'bandwidth':
      put('rate_bytes', BigInt(spec.rate));
      put('burst_bytes', burstBytes(spec));
      break;
    case 'blackhole':
      break;
  }
  return b;
}
