// `--name value` / `--flag` command-line options for the benchmarks (no dependency, strict parsing).

export function numArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a non-negative number, got '${process.argv[i + 1]}'`);
  return v;
}

export function strArg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
