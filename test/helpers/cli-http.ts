// For tests of the live CLI commands: a real HTTP server in this test process (status by path) and the
// real CLI run as a child that says on stderr when its capture is live.
import { before, after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');

/** /items/* -> 200, /fail -> failStatus, anything else -> 404. `port` is set once `before` has run. */
export function useStatusServer(skip: string | undefined, failStatus: number): { port: number } {
  const s = { port: 0 };
  let server: Server | undefined;
  before(async () => {
    if (skip) return;
    server = createServer((req, res) => {
      const status = req.url?.startsWith('/items/') ? 200 : req.url === '/fail' ? failStatus : 404;
      req.resume();
      req.on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status}\n`));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    s.port = (server.address() as AddressInfo).port;
  });
  after(() => server?.close());
  return s;
}

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Runs `faultlens ARGS`; resolves with its output once it exits; `ready` fires when stderr matches `live`. */
export function runCli(args: string[], live: RegExp, ready: () => void): Promise<{ code: number | null; out: string; err: string }> {
  const c = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], { cwd: REPO });
  children.push(c);
  let out = '';
  let err = '';
  let fired = false;
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => {
    err += d;
    if (!fired && live.test(err)) {
      fired = true;
      ready();
    }
  });
  return new Promise((resolve) => c.on('exit', (code) => resolve({ code, out, err })));
}
