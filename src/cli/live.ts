// What every live command (flows, tcp, top, diagnose) shares: numeric flag parsing and the refresh loop
// that runs until Ctrl-C, SIGTERM or --duration, then detaches its probes.

/** A commander argument parser for a positive (or, with allowZero, non-negative) number. */
export function positive(what: string, allowZero = false) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new Error(`${what} must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${v}'`);
    return n;
  };
}

export interface LiveLoop {
  intervalS: number;
  durationS?: number; // stop after this long (default: until a signal)
  tick: () => void;
  close: () => void; // detach probes; runs once, after the last tick
}

/** Runs `tick` every interval until SIGINT/SIGTERM or the duration, then `close`. */
export function runLive(o: LiveLoop): Promise<void> {
  const started = Date.now();
  return new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      o.tick();
      if (o.durationS !== undefined && Date.now() - started >= o.durationS * 1000) stop();
    }, o.intervalS * 1000);
    const stop = () => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      o.close();
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
