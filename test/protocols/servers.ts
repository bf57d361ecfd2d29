// Test helper: real Debian servers started on random loopback ports with throw-away data dirs, and
// stopped (process killed by its own pid, dir removed) afterwards. Each returns null when the package
// is not installed so tests can skip with a clear message.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
export { freePort } from '../helpers/ports.js';
import { freePort } from '../helpers/ports.js';

export interface RunningServer {
  port: number;
  /** nginx only: a second port speaking HTTP/2 cleartext (prior knowledge). */
  h2Port?: number;
  dir: string;
  stop(): Promise<void>;
}

async function waitTcp(port: number, ms: number, child?: ChildProcess): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`port ${port} did not open within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess, dir: string): Promise<void> {
  return new Promise((res) => {
    const done = () => {
      rmSync(dir, { recursive: true, force: true });
      res();
    };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 3000).unref();
  });
}

function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `fl-${name}-`));
  chmodSync(d, 0o755);
  return d;
}

export const have = (bin: string) => existsSync(bin);

/** nginx with a small site: static files, a gzip location (chunked responses), 404s. */
export async function startNginx(): Promise<RunningServer | null> {
  if (!have('/usr/sbin/nginx')) return null;
  const dir = tempDir('nginx');
  const port = await freePort();
  const h2Port = await freePort();
  const root = join(dir, 'www');
  spawnSync('mkdir', ['-p', join(root, 'users'), join(root, 'gz')]);
  writeFileSync(join(root, 'index.html'), '<h1>hello</h1>\n');
  writeFileSync(join(root, 'users', '123'), 'user 123\n');
  writeFileSync(join(root, 'big.txt'), 'x'.repeat(100_000));
  // compressible but not trivially: gzip output spans several chunks
  writeFileSync(join(root, 'gz', 'data.txt'), Array.from({ length: 4000 }, (_, i) => `line ${i} ${(i * 7919) % 10007}\n`).join(''));
  const conf = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location /gz/ { gzip on; gzip_http_version 1.0; gzip_min_length 0; gzip_types text/plain; gzip_comp_level 1; }
    location = /echo { client_max_body_size 1m; return 201 "created\\n"; }
  }
  server {
    listen 127.0.0.1:${h2Port} http2;
    root ${root};
    location = /echo { client_max_body_size 1m; return 201 "created\\n"; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn('/usr/sbin/nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitTcp(port, 5000, child);
  await waitTcp(h2Port, 5000, child);
  return { port, h2Port, dir, stop: () => stopChild(child, dir) };
}

export async function startRedis(): Promise<RunningServer | null> {
  if (!have('/usr/bin/redis-server')) return null;
  const dir = tempDir('redis');
  const port = await freePort();
  const child = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    { stdio: 'ignore' },
  );
  await waitTcp(port, 5000, child);
  return { port, dir, stop: () => stopChild(child, dir) };
}

function pgBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const v = readdirSync(base).sort().pop();
  return v && existsSync(join(base, v, 'bin', 'postgres')) ? join(base, v, 'bin') : null;
}

/** PostgreSQL cluster owned by user postgres (initdb refuses root), trust auth on loopback. */
export async function startPostgres(): Promise<RunningServer | null> {
  const bin = pgBin();
  if (!bin) return null;
  const dir = tempDir('pg');
  const port = await freePort();
  const data = join(dir, 'data');
  const asPg = (args: string[]) => {
    const r = process.getuid?.() === 0 ? spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' }) : spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  };
  if (process.getuid?.() === 0) spawnSync('chown', ['postgres:postgres', dir]);
  asPg([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const child = spawn(
    process.getuid?.() === 0 ? 'runuser' : join(bin, 'postgres'),
    [
      ...(process.getuid?.() === 0 ? ['-u', 'postgres', '--', join(bin, 'postgres')] : []),
      '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'logging_collector=off',
    ],
    { stdio: 'ignore' },
  );
  await waitTcp(port, 15000, child);
  return { port, dir, stop: () => stopChild(child, dir) };
}

/** dnsmasq answering example.test (A 10.1.2.3) and authoritative (NXDOMAIN) for the rest of .test. */
export async function startDnsmasq(): Promise<RunningServer | null> {
  if (!have('/usr/sbin/dnsmasq')) return null;
  const dir = tempDir('dns');
  const port = await freePort();
  const child = spawn(
    '/usr/sbin/dnsmasq',
    [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--port=${port}`, '--listen-address=127.0.0.1',
      '--bind-interfaces', '--address=/example.test/10.1.2.3', '--address=/example.test/fd00::1', '--local=/test/',
      `--pid-file=${dir}/pid`, '--user=root',
    ],
    { stdio: 'ignore' },
  );
  await waitTcp(port, 5000, child); // dnsmasq also listens on TCP
  return { port, dir, stop: () => stopChild(child, dir) };
}

/** MariaDB with a fresh datadir; root has an empty password (mysql_native_password). */
export async function startMariadb(): Promise<RunningServer | null> {
  if (!have('/usr/sbin/mariadbd') || !have('/usr/bin/mariadb-install-db')) return null;
  const dir = tempDir('mysql');
  const port = await freePort();
  const data = join(dir, 'data');
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  const r = spawnSync(
    '/usr/bin/mariadb-install-db',
    ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...user],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr}`);
  const child = spawn(
    '/usr/sbin/mariadbd',
    [
      '--no-defaults', `--datadir=${data}`, `--socket=${dir}/sock`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--pid-file=${dir}/pid`, '--skip-log-bin', '--innodb-buffer-pool-size=16M', '--skip-name-resolve', ...user,
    ],
    { stdio: 'ignore' },
  );
  await waitTcp(port, 20000, child);
  return { port, dir, stop: () => stopChild(child, dir) };
}

/** Runs a client program asynchronously (the capture proxy lives on this event loop: never spawnSync). */
export function run(cmd: string, args: string[], input = '', env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (status) => res({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}
