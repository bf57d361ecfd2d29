// Errors of the kernel layer. Messages name the cause (and the program/map/tracepoint involved);
// `code` is the errno name when the kernel or libbpf gave one.
export class BpfError extends Error {
  override name = 'BpfError';
  readonly code?: string;
  readonly errno?: number;
  /** What libbpf printed while the failing operation ran (warnings and info), when anything. */
  readonly libbpfLog?: string;
  constructor(message: string, opts: { code?: string; errno?: number; libbpfLog?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = opts.code;
    this.errno = opts.errno;
    this.libbpfLog = opts.libbpfLog;
  }
}

export class BpfLoadError extends BpfError {
  override name = 'BpfLoadError';
  /** The program the kernel (or libbpf) refused, when one is to blame. */
  readonly program?: string;
  /** The verifier's log for that program ('' when the failure happened before verification). */
  readonly verifierLog: string;
  constructor(message: string, opts: { code?: string; errno?: number; libbpfLog?: string; program?: string; verifierLog?: string }) {
    super(message, opts);
    this.program = opts.program;
    this.verifierLog = opts.verifierLog ?? '';
  }
}

type NativeErr = Error & { code?: string; errno?: number; libbpfLog?: string; program?: string; verifierLog?: string };

/** Re-throws an addon error as a BpfError (keeping code/errno/log). */
export function asBpfError(err: unknown): BpfError {
  if (err instanceof BpfError) return err;
  const e = err as NativeErr;
  if (!(e instanceof Error)) return new BpfError(String(err));
  return new BpfError(e.message, { code: e.code, errno: e.errno, libbpfLog: e.libbpfLog });
}

export function asLoadError(err: unknown): BpfError {
  const e = err as NativeErr;
  if (!(e instanceof Error) || e.verifierLog === undefined) return asBpfError(err);
  // EAGAIN is not a rejection: the verifier stops when a signal is pending, and libbpf's few retries
  // all met one (a profiler's timer signal, an inspector, a tight kill loop)
  const message = e.code === 'EAGAIN'
    ? `cannot load ${e.program ? `program '${e.program}'` : 'the object'}: the kernel stopped verifying it because signals kept arriving (EAGAIN after libbpf's retries; ` +
      `e.g. a profiler's timer such as node --cpu-prof): load it again without them\n${e.message}`
    : e.message;
  return new BpfLoadError(message, {
    code: e.code, errno: e.errno, libbpfLog: e.libbpfLog, program: e.program, verifierLog: e.verifierLog,
  });
}

/** Runs an addon call, converting its errors. */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asBpfError(err);
  }
}
