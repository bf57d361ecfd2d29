// A bounded queue that ships items in batches on its own schedule, so producers (the ingest path, the
// agent's tick) never wait on an exporter: push() is synchronous and drops what does not fit, counting it.
// One batch is in flight at a time; a batch whose send failed (after the sender's own retries) is dropped
// and counted too. Nothing here grows without bound.

export interface BatchQueueOptions<T> {
  maxQueue: number; // items held while waiting to be sent
  maxBatch: number; // items per send
  flushMs: number; // a partial batch waits at most this long
  /** Sends one batch; resolves true when it was delivered. Must not throw (a throw counts as a failure). */
  send: (batch: T[]) => Promise<boolean>;
}

export interface BatchQueueStats {
  queued: number; // waiting now
  sent: number; // items delivered
  droppedQueueFull: number; // refused by push() because the queue was full
  droppedFailed: number; // in batches whose send failed
  batchesSent: number;
  batchesFailed: number;
}

/** Resolves when `p` settles or after `ms`, whichever is first (the timer never outlives it). */
export function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p.then(() => undefined, () => undefined), new Promise<void>((r) => (t = setTimeout(r, Math.max(1, ms))))]).finally(() => clearTimeout(t));
}

export class BatchQueue<T> {
  private items: T[] = [];
  private inFlight: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private kickPending = false;
  readonly counts = { sent: 0, droppedQueueFull: 0, droppedFailed: 0, batchesSent: 0, batchesFailed: 0 };

  constructor(private readonly o: BatchQueueOptions<T>) {
    this.timer = setInterval(() => this.kick(), o.flushMs);
    this.timer.unref(); // an idle exporter does not keep the process alive
  }

  /** Accepts what fits; returns how many were accepted. */
  push(items: T[]): number {
    if (this.closed) {
      this.counts.droppedQueueFull += items.length;
      return 0;
    }
    const room = Math.max(0, this.o.maxQueue - this.items.length);
    const take = Math.min(room, items.length);
    if (take) this.items.push(...(take === items.length ? items : items.slice(0, take)));
    this.counts.droppedQueueFull += items.length - take;
    // encoding and sending start on a later turn of the loop, never inside the producer's call
    if (this.items.length >= this.o.maxBatch && !this.kickPending) {
      this.kickPending = true;
      setImmediate(() => {
        this.kickPending = false;
        this.kick();
      });
    }
    return take;
  }

  stats(): BatchQueueStats {
    return { queued: this.items.length, ...this.counts };
  }

  /** Starts sending the next batch unless one is in flight. */
  private kick(): void {
    if (this.inFlight || !this.items.length) return;
    const batch = this.items.splice(0, this.o.maxBatch);
    this.inFlight = this.o
      .send(batch)
      .catch(() => false)
      .then((ok) => {
        if (ok) {
          this.counts.sent += batch.length;
          this.counts.batchesSent++;
        } else {
          this.counts.droppedFailed += batch.length;
          this.counts.batchesFailed++;
        }
      })
      .finally(() => {
        this.inFlight = undefined;
        if (this.items.length >= this.o.maxBatch) this.kick(); // a backlog goes out back to back
      });
  }

  /** Sends everything queued now (batch after batch); resolves when done or after `timeoutMs`. */
  async flush(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.inFlight) await within(this.inFlight, deadline - Date.now());
      else if (this.items.length) this.kick();
      else return;
    }
  }

  /** Flushes (bounded), then refuses further items. */
  async close(timeoutMs = 10_000): Promise<void> {
    clearInterval(this.timer);
    await this.flush(timeoutMs);
    this.closed = true;
  }
}
