// Small wrappers to run system commands with clear errors (the demo drives ip, nginx, initdb, gcc, ...).
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Runs a command, returns stdout; throws with the command and its stderr on failure. */
export async function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  if (opts.input !== undefined) {
    const r = spawnSync(cmd, args, { input: opts.input, env: opts.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
    return r.stdout;
  }
  try {
    const { stdout } = await execFileP(cmd, args, { env: opts.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** Like run() but never throws: for teardown steps where "already gone" is fine. */
export async function tryRun(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    return { ok: true, out: await run(cmd, args, { timeoutMs: 20_000 }) };
  } catch (err) {
    return { ok: false, out: (err as Error).message };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
