// The demo's network: one namespace per "host", each with eth0 (a veth) plugged into a bridge in the root
// namespace, IPv4 from a private /24 plus an IPv6 ULA, and an /etc/netns/NS/hosts naming every host.
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { BRIDGE, BRIDGE_IP, DOMAIN, HOSTS, MTU, V6_PREFIX, vethName, type DemoHost } from './topology.js';
import type { DemoState } from './state.js';
import { run, tryRun, sleep } from './sh.js';

const ip = (...args: string[]): Promise<string> => run('ip', args);

export function hostsFile(): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const h of HOSTS) {
    const short = h.ns.replace(/^fl-/, '');
    const names = [h.ns, `${short}.${DOMAIN}`, ...h.aliases, ...h.aliases.map((a) => `${a}.${DOMAIN}`)].join(' ');
    lines.push(`${h.ip}\t${names}`);
    lines.push(`${h.ip6}\t${h.ns}-v6 ${short}6.${DOMAIN}`);
  }
  return lines.join('\n') + '\n';
}

/** Creates bridge, namespaces, veths, addresses and hosts files; records each in the state as it goes. */
export async function setupNetwork(state: DemoState, save: () => void): Promise<void> {
  state.links.push(BRIDGE);
  save();
  await ip('link', 'add', BRIDGE, 'type', 'bridge');
  await ip('link', 'set', BRIDGE, 'mtu', String(MTU), 'up');
  await ip('addr', 'add', `${BRIDGE_IP}/24`, 'dev', BRIDGE);
  await tryRun('ip', ['-6', 'addr', 'add', `${V6_PREFIX}1/64`, 'dev', BRIDGE, 'nodad']);
  for (const h of HOSTS) await addHost(h, state, save);
}

async function addHost(h: DemoHost, state: DemoState, save: () => void): Promise<void> {
  const veth = vethName(h.ns);
  state.namespaces.push(h.ns);
  state.links.push(veth);
  const etc = `/etc/netns/${h.ns}`;
  state.files.push(etc);
  save();
  mkdirSync(etc, { recursive: true });
  writeFileSync(`${etc}/hosts`, hostsFile());
  await ip('netns', 'add', h.ns);
  await ip('link', 'add', veth, 'mtu', String(MTU), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(MTU), 'netns', h.ns);
  await ip('link', 'set', veth, 'master', BRIDGE, 'up');
  await ip('-n', h.ns, 'link', 'set', 'lo', 'up');
  await ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0');
  await tryRun('ip', ['-n', h.ns, '-6', 'addr', 'add', `${h.ip6}/64`, 'dev', 'eth0', 'nodad']);
  await ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
}

/** Names of demo namespaces that exist right now. */
export async function existingDemoNamespaces(): Promise<string[]> {
  const out = (await tryRun('ip', ['netns', 'list'])).out;
  const present = new Set(out.split('\n').map((l) => l.split(' ')[0]).filter(Boolean));
  return HOSTS.map((h) => h.ns).filter((n) => present.has(n));
}

export async function linkExists(name: string): Promise<boolean> {
  return (await tryRun('ip', ['link', 'show', 'dev', name])).ok;
}

/** Kills whatever still runs inside a namespace (strays the state file missed), then deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const pids = (await tryRun('ip', ['netns', 'pids', ns])).out.split('\n').map(Number).filter((p) => p > 0);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, round === 0 ? 'SIGTERM' : 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(round === 0 ? 500 : 200);
  }
  await tryRun('ip', ['netns', 'del', ns]);
}

/** Removes every namespace, link and /etc/netns dir the demo may have made (state + topology names). */
export async function teardownNetwork(state: DemoState | undefined): Promise<void> {
  const namespaces = new Set([...(state?.namespaces ?? []), ...(await existingDemoNamespaces())]);
  for (const ns of namespaces) await removeNamespace(ns);
  const links = new Set([...(state?.links ?? []), BRIDGE, ...HOSTS.map((h) => vethName(h.ns))]);
  for (const l of links) if (await linkExists(l)) await tryRun('ip', ['link', 'del', 'dev', l]);
  const files = new Set([...(state?.files ?? []), ...HOSTS.map((h) => `/etc/netns/${h.ns}`)]);
  for (const f of files) if (f.startsWith('/etc/netns/fl-')) rmSync(f, { recursive: true, force: true });
}
