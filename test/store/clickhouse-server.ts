// Starts a throwaway clickhouse-server (Debian package) on free loopback ports with its data in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
export { freePort } from '../helpers/ports.js';
import { freePort } from '../helpers/ports.js';

export const CLICKHOUSE_BIN = '/usr/sbin/clickhouse-server';
export const CLICKHOUSE_SKIP = existsSync(CLICKHOUSE_BIN)
  ? false
  : `clickhouse-server not installed (apt-get install clickhouse-server; scripts/bootstrap.sh --test does it)`;

export interface RunningClickHouse {
  url: (db: string) => string;
  httpPort: number;
  stop(): Promise<void>;
}

export async function startClickHouse(): Promise<RunningClickHouse> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-clickhouse-'));
  const [httpPort, tcpPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const child: ChildProcess = spawn(CLICKHOUSE_BIN, [`--config-file=${join(dir, 'config.xml')}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => (child.kill('SIGKILL'), r()), 5000);
        child.once('exit', () => (clearTimeout(t), r()));
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/ping`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`clickhouse-server did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: (db) => `clickhouse://127.0.0.1:${httpPort}/${db}`, httpPort, stop };
}
