// Turns a spec's scope into concrete kernel targets: the netns inode, the interfaces to attach tc programs
// to, and the cgroup directory for socket hooks. Each lookup fails with a message that names what is missing.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { cgroup2Mounts } from '../kernel/index.js';
import { FaultSpecError, PACKET_KINDS, type FaultSpec } from './spec.js';

export interface ResolvedScope {
  netnsIno: number;            // 0 = any
  interfaces: string[];        // packet faults
  cgroupPath?: string;         // socket faults: absolute cgroup v2 directory
}

export function netnsInode(name: string): number {
  const p = `/run/netns/${name}`;
  if (!existsSync(p)) throw new FaultSpecError(`network namespace '${name}' does not exist (no ${p}; see \`ip netns list\`)`);
  return statSync(p).ino;
}

/** Interface names of a namespace (or the current one), loopback excluded. */
export function listInterfaces(netns?: string): string[] {
  const args = netns ? ['-n', netns, '-j', 'link', 'show'] : ['-j', 'link', 'show'];
  const links = JSON.parse(execFileSync('ip', args, { encoding: 'utf8' })) as { ifname: string; link_type?: string }[];
  return links.filter((l) => l.link_type !== 'loopback' && l.ifname !== 'lo').map((l) => l.ifname);
}

export function resolveCgroup(path: string): string {
  const mount = cgroup2Mounts()[0];
  if (!mount) throw new FaultSpecError('no cgroup v2 mount found: connect and TCP faults need one (mount -t cgroup2 none /sys/fs/cgroup/unified)');
  const abs = isAbsolute(path) && path.startsWith(mount) ? resolve(path) : resolve(join(mount, path));
  if (!abs.startsWith(mount)) throw new FaultSpecError(`cgroup '${path}' is outside the cgroup v2 mount ${mount}`);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new FaultSpecError(`cgroup '${path}' does not exist (no directory ${abs})`);
  return abs;
}

export function resolveScope(spec: FaultSpec): ResolvedScope {
  const s = spec.scope;
  const netnsIno = s.netns ? netnsInode(s.netns) : 0;
  if (s.pid !== undefined && !existsSync(`/proc/${s.pid}`)) throw new FaultSpecError(`process ${s.pid} does not exist`);
  if (PACKET_KINDS.has(spec.kind)) {
    const present = listInterfaces(s.netns);
    const where = s.netns ? ` in network namespace '${s.netns}'` : '';
    if (s.ifname) {
      const missing = s.ifname.filter((i) => !present.includes(i));
      if (missing.length) throw new FaultSpecError(`unknown interface ${missing.join(', ')}${where} (has: ${present.join(', ') || 'none'})`);
      return { netnsIno, interfaces: s.ifname };
    }
    if (!present.length) throw new FaultSpecError(`no interface besides lo${where}: nothing to attach ${spec.kind} to`);
    return { netnsIno, interfaces: present };
  }
  const cg = s.cgroup ? resolveCgroup(s.cgroup) : resolveCgroup('/');
  return { netnsIno, interfaces: [], cgroupPath: cg };
}
