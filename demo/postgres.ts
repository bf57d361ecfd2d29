// PostgreSQL for the demo: initdb + schema + seed once into a cached cluster (initdb is the slow part of
// `demo up`), then each `demo up` copies that cluster into the runtime dir and runs it as user postgres.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, mkdirSync, appendFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cacheDir, DEMO_SRC } from './paths.js';
import { run, sleep } from './sh.js';
import { SUBNET_CIDR, V6_PREFIX } from './topology.js';

export const SEED_SQL = join(DEMO_SRC, 'config', 'seed.sql');

/** bin dir of the newest installed PostgreSQL (Debian: /usr/lib/postgresql/NN/bin). */
export function pgBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

export const asPostgres = (cmd: string, args: string[]): [string, string[]] => [
  'setpriv',
  ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args],
];

const PG_CONF = `
# faultlens demo: a throwaway database, so durability is traded for speed
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 60
shared_buffers = 32MB
listen_addresses = '*'
log_min_duration_statement = 250
`;

/** Returns the cached, initialised and seeded cluster dir, creating it when missing or out of date. */
export async function ensureClusterTemplate(onProgress: (msg: string) => void = () => {}): Promise<string> {
  const bin = pgBinDir();
  if (!bin) throw new Error('postgresql is not installed (apt-get install postgresql)');
  const hash = createHash('sha256').update(readFileSync(SEED_SQL)).update(bin).update(PG_CONF).digest('hex').slice(0, 12);
  const dir = join(cacheDir(), `pg-${hash}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  onProgress('initialising the postgres cluster (cached for the next runs)');
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  await run('chown', ['postgres:postgres', tmp]);
  const [c1, a1] = asPostgres(join(bin, 'initdb'), ['-D', tmp, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  await run(c1, a1, { timeoutMs: 120_000 });
  appendFileSync(join(tmp, 'postgresql.conf'), PG_CONF);
  appendFileSync(join(tmp, 'pg_hba.conf'), `\nhost all all ${SUBNET_CIDR} trust\nhost all all ${V6_PREFIX}/64 trust\n`);
  // Seed through a private unix socket, no TCP: this runs in the root namespace.
  const sock = join(tmp, 'seed-sock');
  mkdirSync(sock);
  await run('chown', ['postgres:postgres', sock]);
  const [c2, a2] = asPostgres(join(bin, 'postgres'), ['-D', tmp, '-c', "listen_addresses=", '-c', `unix_socket_directories=${sock}`]);
  const pg = spawn(c2, a2, { stdio: 'ignore' });
  try {
    for (let i = 0; !existsSync(join(sock, '.s.PGSQL.5432')); i++) {
      if (i > 300 || pg.exitCode !== null) throw new Error('seed postgres did not start');
      await sleep(100);
    }
    await run(join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', sock, '-U', 'postgres', '-d', 'postgres', '-f', SEED_SQL], { timeoutMs: 60_000 });
  } finally {
    pg.kill('SIGINT'); // fast shutdown: a clean checkpoint, so copies start without recovery
    await new Promise((r) => (pg.exitCode !== null ? r(null) : pg.once('exit', r)));
  }
  rmSync(sock, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** Copies the cached cluster into place (ownership kept) for one demo run. */
export async function instantiateCluster(template: string, dataDir: string): Promise<void> {
  rmSync(dataDir, { recursive: true, force: true });
  await run('cp', ['-a', template, dataDir]);
}
