// Static files: the UI from web/ and a few vendored browser files from node_modules (no CDN: the
// browser of an incident machine may have no internet).
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

/** The checkout/package root: works from src/ (tsx) and from dist/src/ (compiled). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'web'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the faultlens package root (web/ next to package.json)');
    dir = up;
  }
}

export interface StaticMount {
  prefix: string; // URL prefix, ends with /
  dir: string;
  files?: string[]; // when set, only these names are served
}

export function defaultMounts(root = packageRoot()): StaticMount[] {
  return [
    { prefix: '/vendor/uplot/', dir: join(root, 'node_modules', 'uplot', 'dist'), files: ['uPlot.esm.js', 'uPlot.min.css'] },
    { prefix: '/', dir: join(root, 'web') },
  ];
}

/** Serves the file for `pathname` if one of the mounts has it; returns false otherwise. */
export function serveStatic(mounts: StaticMount[], pathname: string, res: ServerResponse, head = false): boolean {
  for (const m of mounts) {
    if (!pathname.startsWith(m.prefix)) continue;
    let rel = decodeURIComponent(pathname.slice(m.prefix.length));
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    if (m.files && !m.files.includes(rel)) continue;
    const file = normalize(join(m.dir, rel));
    if (!file.startsWith(m.dir + sep)) continue; // no ../ escapes
    let st;
    try {
      st = statSync(file);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': st.size,
      'cache-control': 'no-cache',
    });
    if (head) res.end();
    else createReadStream(file).pipe(res);
    return true;
  }
  return false;
}
