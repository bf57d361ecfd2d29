// `demo up | down | status`: builds the shop (network, data, processes) and removes every trace of it.
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { HOSTS, SERVICES, hostByNs, GATEWAY_HTTP, GATEWAY_HTTPS, type ServiceName } from './topology.js';
import { emptyState, loadState, saveState, clearState, stateFile, type DemoState } from './state.js';
import { setupNetwork, teardownNetwork, existingDemoNamespaces } from './netns.js';
import { isAlive, stopTracked, removeCgroups, cgroup2Root, DEMO_CGROUP } from './procs.js';
import { ensureClusterTemplate, instantiateCluster, pgBinDir } from './postgres.js';
import { ensurePaymentBinary } from './payment/build.js';
import { makeSelfSignedCert, writeNginxConf } from './nginx.js';
import { startService, startContextFile, type StartContext } from './services.js';
import { rt, runtimeDir } from './paths.js';
import { run, sleep } from './sh.js';

export type Progress = (msg: string) => void;

const REQUIRED_COMMANDS: [string, string][] = [
  ['ip', 'iproute2'], ['nginx', 'nginx-light'], ['redis-server', 'redis-server'], ['openssl', 'openssl'],
  ['gcc', 'gcc'], ['setpriv', 'util-linux'], ['cp', 'coreutils'],
];

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('demo up needs root (network namespaces, bridge, cgroups)');
  const missing: string[] = [];
  for (const [cmd, pkg] of REQUIRED_COMMANDS) {
    try {
      await run('sh', ['-c', `command -v ${cmd}`]);
    } catch {
      missing.push(pkg);
    }
  }
  if (!pgBinDir()) missing.push('postgresql');
  if (missing.length) throw new Error(`missing packages: ${[...new Set(missing)].join(' ')} (apt-get install ${[...new Set(missing)].join(' ')})`);
}

/** True when anything of a previous demo is still around (state file, namespaces). */
export async function leftoversExist(): Promise<boolean> {
  return existsSync(stateFile()) || (await existingDemoNamespaces()).length > 0;
}

/** Order in which services start: data first, then the services using it, then the gateway. */
const START_WAVES: ServiceName[][] = [['postgres', 'redis', 'payment'], ['catalog', 'cart', 'orders', 'frontend'], ['gateway']];

export async function up(progress: Progress = () => {}, signal?: AbortSignal): Promise<DemoState> {
  await checkPrerequisites();
  if (await leftoversExist()) {
    progress('removing the leftovers of a previous demo');
    await down(() => {});
  }
  const t0 = Date.now();
  mkdirSync(runtimeDir(), { recursive: true });
  chmodSync(runtimeDir(), 0o755); // postgres runs as user postgres and must reach its data dir inside
  const state = emptyState();
  const save = (): void => saveState(state);
  save();
  try {
    progress('building the payment service and the postgres cluster (cached)');
    const [paymentBin, pgTemplate] = await Promise.all([ensurePaymentBinary(), ensureClusterTemplate(progress)]);
    progress(`creating ${HOSTS.length} hosts (network namespaces) on bridge`);
    if (signal?.aborted) throw new Error('interrupted');
    await setupNetwork(state, save);
    const pgData = rt('pgdata');
    await instantiateCluster(pgTemplate, pgData);
    const tls = await makeSelfSignedCert(rt('tls'));
    const nginxConf = writeNginxConf(rt('nginx'), tls, 'frontend:8080');
    const ctx: StartContext = { paymentBin, nginxConf, pgData };
    writeFileSync(startContextFile(), JSON.stringify(ctx));
    for (const wave of START_WAVES) {
      if (signal?.aborted) throw new Error('interrupted');
      progress(`starting ${wave.join(', ')}`);
      await Promise.all(wave.map((name) => startService(name, ctx)));
    }
    const fresh = loadState() ?? state;
    fresh.namespaces = state.namespaces;
    fresh.links = state.links;
    fresh.files = state.files;
    fresh.cgroups = cgroup2Root() ? [join(cgroup2Root()!, DEMO_CGROUP)] : [];
    fresh.ready = true;
    saveState(fresh);
    progress(`demo is up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${GATEWAY_HTTP}/ and ${GATEWAY_HTTPS}/ (self-signed)`);
    return fresh;
  } catch (err) {
    progress(`demo up failed, cleaning up: ${(err as Error).message}`);
    await down(() => {});
    throw err;
  }
}

export function loadStartContext(): StartContext {
  return JSON.parse(readFileSync(startContextFile(), 'utf8')) as StartContext;
}

/** Stops and removes everything a demo made. Safe to run any number of times, with or without state. */
export async function down(progress: Progress = () => {}): Promise<void> {
  const state = loadState();
  const procs = state?.procs ?? [];
  if (procs.length) progress(`stopping ${procs.length} processes`);
  // Clients first (load generator, scenario helpers), so they do not log the shutdown as errors.
  const isService = (name: string): boolean => SERVICES.some((s) => s.name === name);
  await Promise.all(procs.filter((p) => !isService(p.name)).map((p) => stopTracked(p)));
  await Promise.all(procs.filter((p) => isService(p.name)).map((p) => stopTracked(p)));
  progress('removing namespaces, veths, bridge and /etc/netns entries');
  await teardownNetwork(state);
  for (let i = 0; i < 10; i++) {
    removeCgroups();
    const root = cgroup2Root();
    if (!root || !existsSync(join(root, DEMO_CGROUP))) break;
    await sleep(100);
  }
  // Data and config go; records (load ground truth, scenario ground truth) and logs stay for analysis.
  for (const d of ['pgdata', 'redis', 'nginx', 'tls', 'start-context.json']) rmSync(rt(d), { recursive: true, force: true });
  clearState();
}

export interface ServiceStatus {
  name: string;
  host: string;
  ip: string;
  ports: number[];
  pid?: number;
  running: boolean;
  healthy: boolean;
  detail?: string;
}

export interface DemoStatus {
  up: boolean;
  ready: boolean;
  runtimeDir: string;
  startedAt?: string;
  gateway: { http: string; https: string };
  hosts: { ns: string; ip: string; ip6: string; present: boolean }[];
  services: ServiceStatus[];
}

function httpHealth(ip: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path: '/health', timeout: 1500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

async function tcpHealth(ip: string, port: number): Promise<string | undefined> {
  const { waitForPort } = await import('./procs.js');
  try {
    await waitForPort(ip, port, 0, `port ${port}`);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function status(): Promise<DemoStatus> {
  const state = loadState();
  const present = new Set(await existingDemoNamespaces());
  const services: ServiceStatus[] = [];
  for (const svc of SERVICES) {
    const ip = hostByNs(svc.ns).ip;
    const proc = state?.procs.find((p) => p.name === svc.name);
    const running = !!proc && isAlive(proc);
    let detail: string | undefined;
    if (running) {
      const port = svc.name === 'gateway' ? 80 : svc.ports[0]!;
      detail = svc.kind === 'node' || svc.kind === 'native' ? await httpHealth(ip, port) : await tcpHealth(ip, port);
    } else detail = proc ? 'exited' : 'not started';
    services.push({ name: svc.name, host: svc.ns, ip, ports: svc.ports, pid: proc?.pid, running, healthy: running && !detail, detail });
  }
  return {
    up: !!state && present.size > 0,
    ready: !!state?.ready,
    runtimeDir: runtimeDir(),
    startedAt: state?.startedAt,
    gateway: { http: GATEWAY_HTTP, https: GATEWAY_HTTPS },
    hosts: HOSTS.map((h) => ({ ns: h.ns, ip: h.ip, ip6: h.ip6, present: present.has(h.ns) })),
    services,
  };
}
