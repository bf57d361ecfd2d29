// Where a business probe attaches: an explicit path, a bare library name (found the way the dynamic
// loader would, via `ldconfig -p`), or a running process's executable.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readlinkSync } from 'node:fs';

let ldCache: Map<string, string> | undefined;

/** name (e.g. libc.so.6) -> path from the loader cache, preferring this machine's 64-bit entries. */
function loaderCache(): Map<string, string> {
  if (ldCache) return ldCache;
  ldCache = new Map();
  let out = '';
  try {
    out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    try { out = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { /* none */ }
  }
  for (const line of out.split('\n')) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, name, flags, path] = m as unknown as [string, string, string, string];
    const is64 = flags.includes('x86-64') || flags.includes('AArch64') || flags.includes('64bit');
    if (!ldCache.has(name) || is64) ldCache.set(name, path);
  }
  return ldCache;
}

/** The path of a shared library as the loader finds it (e.g. 'libc.so.6' or 'libc'), or undefined. */
export function findLibrary(name: string): string | undefined {
  const cache = loaderCache();
  if (cache.has(name)) return cache.get(name);
  const prefix = name.startsWith('lib') ? name : `lib${name}`;
  for (const [n, p] of cache) if (n === `${prefix}.so` || n.startsWith(`${prefix}.so.`)) return p;
  return undefined;
}

/** The file a probe attaches to; throws an Error that says what is missing. */
export function resolveTarget(target: string | undefined, pid: number | undefined): string {
  if (target === undefined) {
    if (pid === undefined) throw new Error('needs a target (binary or library path) or a pid');
    const exe = `/proc/${pid}/exe`;
    try {
      return readlinkSync(exe).replace(/ \(deleted\)$/, '') && exe; // the link works even if the file was replaced
    } catch {
      throw new Error(`process ${pid} does not exist (or its executable is not readable)`);
    }
  }
  if (!target.includes('/')) {
    const lib = findLibrary(target);
    if (!lib) throw new Error(`library '${target}' is not known to the dynamic loader (ldconfig -p); give its path`);
    return lib;
  }
  if (!existsSync(target)) throw new Error(`target ${target} does not exist`);
  try {
    accessSync(target, constants.R_OK);
  } catch {
    throw new Error(`target ${target} is not readable`);
  }
  if (pid !== undefined && !existsSync(`/proc/${pid}`)) throw new Error(`process ${pid} does not exist`);
  return target;
}
