// Loopback HTTP servers for the overhead benchmark, started on a free port with a temp config and
// stopped (and their files removed) by the returned handle.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
export { freePort as freeLoopbackPort };
const freeLoopbackPort = freePort;

export interface BenchServer {
  kind: string;
  url: string;
  /** The process that serves requests (nginx: the single worker), for its CPU time. */
  workerPid: number;
  stop(): Promise<void>;
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// 615 bytes: the size of Debian's default index.nginx-debian.html, a typical small static response.
const PAGE = `<!DOCTYPE html>\n<html>\n<head>\n<title>faultlens bench</title>\n</head>\n<body>\n${'<p>faultlens loopback benchmark page.</p>\n'.repeat(12)}`
  .slice(0, 615 - '</body>\n</html>\n'.length - 1).padEnd(615 - '</body>\n</html>\n'.length, ' ') + '</body>\n</html>\n';

async function waitFor(what: string, ok: () => boolean, ms: number, proc?: ChildProcess, log?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (proc && proc.exitCode !== null) throw new Error(`${what}: the process exited with ${proc.exitCode}\n${log?.() ?? ''}`);
    if (Date.now() > end) throw new Error(`${what}: not ready after ${ms} ms\n${log?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function portAnswers(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/index.html`);
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

function stopProcess(p: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => { p.kill('SIGKILL'); }, 5000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill(signal);
  });
}

/** nginx from Debian: 1 worker, access log off, serving one small static file on 127.0.0.1:port. */
export async function startNginx(): Promise<BenchServer> {
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-nginx-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'www'));
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'www', 'index.html'), PAGE);
  writeFileSync(join(dir, 'nginx.conf'), `user root;
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  default_type text/html;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location / { }
  }
}
`);
  const log = () => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } };
  const p = spawn('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => { stderr += d; });
  let answers = false;
  const probe = setInterval(() => { void portAnswers(port).then((ok) => { answers ||= ok; }); }, 100);
  try {
    await waitFor('nginx', () => answers && childrenOf(p.pid!).length > 0, 15_000, p, () => stderr + log());
  } finally {
    clearInterval(probe);
  }
  const worker = childrenOf(p.pid!)[0];
  return {
    kind: `nginx ${spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', '')} (1 worker, sendfile, static ${PAGE.length} B file)`,
    url: `http://127.0.0.1:${port}/index.html`,
    workerPid: worker,
    stop: async () => {
      await stopProcess(p, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Node http server in its own process: one event loop, the same small page from memory. */
export async function startNodeHttp(): Promise<BenchServer> {
  const port = await freeLoopbackPort();
  const code = `const body = Buffer.from(${JSON.stringify(PAGE)});
require('node:http').createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length }); res.end(body); })
  .listen(${port}, '127.0.0.1', () => console.log('listening'));`;
  const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d; });
  p.stderr!.on('data', (d: Buffer) => { out += d; });
  await waitFor('node http server', () => out.includes('listening'), 15_000, p, () => out);
  return {
    kind: `node ${process.version} http (1 process, ${PAGE.length} B body from memory)`,
    url: `http://127.0.0.1:${port}/index.html`,
    workerPid: p.pid!,
    stop: () => stopProcess(p, 'SIGTERM'),
  };
}

