// Per-segment loss needs per-segment packets. The stack hands tc GSO "super packets" of up to 64 KiB (and
// veth forwards them unsplit), so dropping one loses dozens of MSS segments at once. For loss faults the
// engine caps the scoped interfaces' gso_max_segs at 1 (new connections then send one segment per packet,
// like a real wire) and restores the old value when the fault stops. This setting is not a kernel
// attachment: after a SIGKILL it stays (harmless — it only costs CPU); `faultlens inject stop --all`
// or the next normal stop of a loss fault on that interface restores it.
import { execFileSync } from 'node:child_process';

function ipArgs(netns: string | undefined, args: string[]): string[] {
  return netns ? ['-n', netns, ...args] : args;
}

export function gsoMaxSegs(ifname: string, netns?: string): number {
  const out = execFileSync('ip', ipArgs(netns, ['-d', '-j', 'link', 'show', 'dev', ifname]), { encoding: 'utf8' });
  const [link] = JSON.parse(out) as { gso_max_segs?: number }[];
  return link?.gso_max_segs ?? 65535;
}

export function setGsoMaxSegs(ifname: string, segs: number, netns?: string): void {
  execFileSync('ip', ipArgs(netns, ['link', 'set', 'dev', ifname, 'gso_max_segs', String(segs)]), { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Caps gso_max_segs at 1 on the interfaces; returns a function restoring what was there. */
export function singleSegmentPackets(ifnames: string[], netns?: string): () => void {
  const saved: [string, number][] = [];
  for (const ifname of ifnames) {
    const old = gsoMaxSegs(ifname, netns);
    if (old !== 1) {
      setGsoMaxSegs(ifname, 1, netns);
      saved.push([ifname, old]);
    }
  }
  return () => {
    for (const [ifname, old] of saved) {
      try { setGsoMaxSegs(ifname, old, netns); } catch { /* the interface or namespace is gone */ }
    }
  };
}
