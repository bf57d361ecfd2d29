// Service identity: which service a process is (config mapping > cgroup > interpreter script > exe > comm),
// which service owns an endpoint (learned from the sockets we see: listening ends and client ends), and how
// to name peers we never see as processes (DNS name from parsed DNS answers, else the IP).
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Endpoint } from '../model/flow.js';

export interface ProcessInfo {
  pid: number;
  comm: string;
  exe?: string;
  cmdline?: string[];
  cgroup?: string; // cgroup v2 path ("/faultlens-demo/orders")
}

/** One config rule: every given field must match (strings are substrings, or /regex/). */
export interface ServiceMapping {
  name: string;
  comm?: string;
  exe?: string;
  cmdline?: string;
  cgroup?: string;
  port?: number; // a listening port: processes serving it are this service
}

export type ServiceSource = 'config' | 'cgroup' | 'cmdline' | 'exe' | 'comm';

export interface ServiceResolverOptions {
  mappings?: ServiceMapping[];
  /** Reads a process' identity; default: /proc. Tests pass recorded identities. */
  readProcess?: (pid: number, comm: string) => ProcessInfo | undefined;
  maxEndpoints?: number;
}

const INTERPRETERS = /^(node|nodejs|python[\d.]*|ruby[\d.]*|perl[\d.]*|php[\d.]*|java|bun|deno|dotnet)$/;
// interpreter options whose value is a separate argument
const VALUE_OPTIONS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '-cp', '-classpath', '--class-path', '-W', '-X', '-c']);
// cgroup leaves that say nothing about the workload
const GENERIC_CGROUP = /^(|init\.scope|session-\d+\.scope|user@\d+\.service|.*\.slice|app\.slice)$/;

export function readProcProcess(pid: number, comm: string): ProcessInfo | undefined {
  const info: ProcessInfo = { pid, comm };
  try {
    info.cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return undefined; // the process is gone: the caller falls back to comm
  }
  try { info.exe = readlinkSync(`/proc/${pid}/exe`); } catch { /* kernel thread or no permission */ }
  if (info.exe) info.exe = startedAs(pid, info.exe) ?? info.exe;
  try {
    const v2 = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    if (v2) info.cgroup = v2.slice(3).trim();
  } catch { /* no cgroup file */ }
  return info;
}

/**
 * The path a multi-call binary was started by, when it was started through a symlink beside it
 * (redis-server -> redis-check-rdb, busybox applets): the exe link names the target, the process name
 * (comm) keeps the name it was started by, and that is the name operators know it by.
 */
function startedAs(pid: number, exe: string): string | undefined {
  let comm: string;
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
  const base = basename(exe);
  if (!comm || comm.includes('/') || base.startsWith(comm) || exe.endsWith(' (deleted)')) return undefined; // (comm is cut at 15 bytes)
  const root = `/proc/${pid}/root`; // the process's own filesystem view (containers)
  try {
    return realpathSync(`${root}${dirname(exe)}/${comm}`) === realpathSync(`${root}${exe}`) ? `${dirname(exe)}/${comm}` : undefined;
  } catch {
    return undefined; // no such name beside it: comm was set by the program (prctl), not by exec
  }
}

/** A name from the cgroup path: container ids, systemd units, or the leaf of a hand-made tree. */
export function serviceFromCgroup(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const leaf = path.split('/').filter(Boolean).pop() ?? '';
  if (GENERIC_CGROUP.test(leaf)) return undefined;
  const container = /(?:docker|cri-containerd|crio|libpod)-([0-9a-f]{12})[0-9a-f]*\.scope$/.exec(leaf) ?? /^([0-9a-f]{12})[0-9a-f]{52}$/.exec(leaf);
  if (container) return `container:${container[1]}`;
  return leaf.replace(/\.(service|scope)$/, '');
}

/** "node /srv/orders.js" -> "orders"; "java -jar shop.jar" -> "shop"; undefined for non-interpreters. */
export function serviceFromCmdline(cmdline: string[] | undefined): string | undefined {
  if (!cmdline?.length) return undefined;
  if (!INTERPRETERS.test(basename(cmdline[0]!))) return undefined;
  for (let i = 1; i < cmdline.length; i++) {
    const a = cmdline[i]!;
    if (a === '-jar') continue; // the jar that follows is the program
    if (a === '-m' && cmdline[i + 1]) return cmdline[i + 1]!.split('.')[0]; // python -m package.module
    if (VALUE_OPTIONS.has(a)) {
      i++; // its value is not the program
      continue;
    }
    if (a.startsWith('-')) continue;
    const base = basename(a).replace(/\.(m?js|cjs|m?ts|py|rb|pl|php|jar)$/, '');
    if (base === 'index' || base === 'main' || base === 'server' || base === 'app') {
      const dir = basename(a.slice(0, a.length - basename(a).length - 1));
      if (dir) return dir;
    }
    return base || undefined;
  }
  return undefined;
}

function matches(pattern: string | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (value === undefined) return false;
  const re = /^\/(.+)\/([a-z]*)$/.exec(pattern);
  return re ? new RegExp(re[1]!, re[2]).test(value) : value.includes(pattern);
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

export class ServiceResolver {
  private readonly byPid = new Map<number, { comm: string; name: string; source: ServiceSource }>();
  private readonly endpoints = new Map<string, string>(); // endpoint key -> service
  private readonly listening = new Map<string, string>(); // server endpoints only
  private readonly dnsNames = new Map<string, string>(); // ip -> query name
  private readonly readProcess: (pid: number, comm: string) => ProcessInfo | undefined;
  private readonly mappings: ServiceMapping[];
  private readonly maxEndpoints: number;
  private readonly hasPortRules: boolean;

  constructor(opts: ServiceResolverOptions = {}) {
    this.mappings = opts.mappings ?? [];
    this.hasPortRules = this.mappings.some((m) => m.port !== undefined);
    this.readProcess = opts.readProcess ?? readProcProcess;
    this.maxEndpoints = opts.maxEndpoints ?? 200_000;
  }

  /** The service of a process (cached per pid; a reused pid with another comm is looked up again). */
  ofProcess(pid: number, comm: string, listeningPort?: number): string {
    // port rules make the answer depend on the port served, so it is part of the cache key then
    const key = this.hasPortRules && listeningPort !== undefined ? pid + listeningPort * 4194304 : pid;
    const hit = this.byPid.get(key);
    if (hit && hit.comm === comm) return hit.name;
    const info = this.readProcess(pid, comm) ?? { pid, comm };
    const { name, source } = this.identify(info, listeningPort);
    if (this.byPid.size > 50_000) this.byPid.clear();
    this.byPid.set(key, { comm, name, source });
    return name;
  }

  identify(info: ProcessInfo, listeningPort?: number): { name: string; source: ServiceSource } {
    const cmd = info.cmdline?.join(' ');
    for (const m of this.mappings) {
      if (m.port !== undefined && m.port !== listeningPort) continue;
      if (matches(m.comm, info.comm) && matches(m.exe, info.exe) && matches(m.cmdline, cmd) && matches(m.cgroup, info.cgroup)) {
        return { name: m.name, source: 'config' };
      }
    }
    const cg = serviceFromCgroup(info.cgroup);
    if (cg) return { name: cg, source: 'cgroup' };
    const script = serviceFromCmdline(info.cmdline);
    if (script) return { name: script, source: 'cmdline' };
    if (info.exe) return { name: basename(info.exe.replace(/ \(deleted\)$/, '')), source: 'exe' };
    return { name: info.comm || 'unknown', source: 'comm' };
  }

  private key(ep: Endpoint, netns: number): string {
    return `${isLoopback(ep.ip) ? netns : 0}|${ep.ip}|${ep.port}`;
  }

  /** A local socket end belongs to `service`; `server` marks a listening (accepted) end. */
  learnEndpoint(ep: Endpoint, netns: number, service: string, server: boolean): void {
    const k = this.key(ep, netns);
    if (this.endpoints.size >= this.maxEndpoints) this.endpoints.clear(); // relearnt from live traffic
    this.endpoints.set(k, service);
    if (server) {
      this.listening.set(k, service);
      this.listening.set(`${isLoopback(ep.ip) ? netns : 0}|*|${ep.port}`, service);
    }
  }

  /** The service owning this endpoint if we have seen its process; else undefined. */
  ofEndpoint(ep: Endpoint, netns: number): string | undefined {
    return this.endpoints.get(this.key(ep, netns)) ?? this.listening.get(this.key(ep, netns));
  }

  /** Addresses from a DNS answer: peers at them are named by the query name. */
  learnDns(name: string, addresses: string[]): void {
    if (this.dnsNames.size > 100_000) this.dnsNames.clear();
    for (const a of addresses) this.dnsNames.set(a, name);
  }

  dnsNameOf(ip: string): string | undefined {
    return this.dnsNames.get(ip);
  }

  /** Name of a peer: its service when seen, else DNS name or IP, with the port for servers. */
  nameOf(ep: Endpoint, netns: number, isServer: boolean): string {
    const s = this.ofEndpoint(ep, netns);
    if (s) return s;
    const host = this.dnsNames.get(ep.ip) ?? ep.ip;
    return isServer ? `${host}:${ep.port}` : host;
  }
}
