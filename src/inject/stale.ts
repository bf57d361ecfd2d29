// Netlink (clsact) filters outlive a SIGKILLed owner. The in-kernel deadline has made them no-ops, but they
// still cost a program run per packet: this finds inject_tc_* filters that no live fault owns and deletes them.
// Called by `faultlens inject stop --all` and usable at agent start.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { listInterfaces } from './resolve.js';

interface TcFilter { pref?: number; handle?: string; kind?: string; options?: { bpf_name?: string; handle?: string } }

function tc(netns: string | undefined, args: string[]): string {
  return execFileSync('tc', netns ? ['-n', netns, ...args] : args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Deletes inject_tc_* clsact filters in the given namespaces (default: the host's and every `ip netns`),
 *  except on interfaces listed in `keep` ("netns/ifname"). Returns "netns/ifname dir pref" of each removed. */
export function removeStaleTcFilters(namespaces?: (string | undefined)[], keep: Set<string> = new Set()): string[] {
  const spaces = namespaces ?? [undefined, ...(existsSync('/run/netns') ? readdirSync('/run/netns') : [])];
  const removed: string[] = [];
  for (const netns of spaces) {
    let ifnames: string[];
    try { ifnames = listInterfaces(netns); } catch { continue; }
    for (const ifname of ifnames) {
      if (keep.has(`${netns ?? ''}/${ifname}`)) continue;
      for (const dir of ['ingress', 'egress']) {
        let filters: TcFilter[];
        try { filters = JSON.parse(tc(netns, ['-j', 'filter', 'show', 'dev', ifname, dir]) || '[]') as TcFilter[]; } catch { continue; }
        for (const f of filters) {
          if (f.kind !== 'bpf' || !f.options?.bpf_name?.startsWith('inject_tc_') || f.pref === undefined) continue;
          try {
            tc(netns, ['filter', 'del', 'dev', ifname, dir, 'pref', String(f.pref)]);
            removed.push(`${netns ?? ''}/${ifname} ${dir} pref ${f.pref}`);
          } catch { /* gone meanwhile */ }
        }
      }
    }
  }
  return removed;
}
