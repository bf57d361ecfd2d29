// Compiles the native payment service once per source version into the demo cache (kept across downs).
// Flags keep the business functions as real, separate symbols for uprobes: -O1 -fno-inline -g.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, DEMO_SRC } from '../paths.js';
import { run } from '../sh.js';

export const PAYMENT_SOURCE = join(DEMO_SRC, 'payment', 'payment.c');
export const PAYMENT_CFLAGS = ['-O1', '-fno-inline', '-g', '-pthread', '-Wall', '-Wextra', '-Wno-unused-parameter'];

/** Path of the compiled payment binary, building it if this source version was never built. */
export async function ensurePaymentBinary(): Promise<string> {
  const src = readFileSync(PAYMENT_SOURCE);
  const hash = createHash('sha256').update(src).update(PAYMENT_CFLAGS.join(' ')).digest('hex').slice(0, 12);
  const dir = join(cacheDir(), 'payment');
  const bin = join(dir, `payment-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.tmp${process.pid}`;
    await run('gcc', [...PAYMENT_CFLAGS, '-o', tmp, PAYMENT_SOURCE]);
    renameSync(tmp, bin);
  }
  linkCurrent(dir, bin);
  return bin;
}

/** A stable name (`<cache>/payment/payment`) for business-probe configs: always the current build. */
function linkCurrent(dir: string, bin: string): void {
  const link = join(dir, 'payment');
  const tmp = `${link}.tmp${process.pid}`;
  symlinkSync(bin, tmp);
  renameSync(tmp, link); // atomic replace
}
