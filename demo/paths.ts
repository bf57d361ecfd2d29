// Where the demo keeps things: sources (in the checkout), runtime state (removed on down), caches (kept).
import { existsSync, accessSync, constants, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout root: the nearest ancestor holding package.json (works from demo/ and from dist/demo/). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'demo', 'services'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the faultlens checkout (demo/services) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const REPO_ROOT = findRoot();
export const DEMO_SRC = join(REPO_ROOT, 'demo');

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runtime dir: $FAULTLENS_DEMO_DIR, else /run/faultlens-demo, else /tmp/faultlens-demo. */
export function runtimeDir(): string {
  const env = process.env.FAULTLENS_DEMO_DIR;
  if (env) return env;
  return writable('/run') && existsSync('/run') ? '/run/faultlens-demo' : '/tmp/faultlens-demo';
}

/** Cache that survives `demo down`: the initialised postgres cluster, the compiled payment service. */
export function cacheDir(): string {
  const env = process.env.FAULTLENS_DEMO_CACHE;
  if (env) return env;
  return writable('/var/cache') ? '/var/cache/faultlens-demo' : '/tmp/faultlens-demo-cache';
}

export const rt = (...parts: string[]): string => join(runtimeDir(), ...parts);
