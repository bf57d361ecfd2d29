// Buffers rows per table and writes them in batches: when `maxRows` are pending or `maxDelayMs` after the
// first pending row, whichever comes first. So a crash loses at most the rows of the last
// `maxDelayMs` (default 1 s), never more than `maxRows` (default 5000) plus a batch being written.
import type { Cell } from './codec.js';
import type { TableName } from './schema.js';
import type { BatchOptions } from './types.js';

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export type WriteBatch = (batch: Map<TableName, Cell[][]>) => Promise<void>;

export class Batcher {
  private pending = new Map<TableName, Cell[][]>();
  private pendingCount = 0;
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  writtenRows = 0;
  droppedRows = 0;
  flushes = 0;
  lastError: string | undefined;

  constructor(
    private readonly opts: BatchOptions,
    private readonly writeBatch: WriteBatch,
    private readonly onError: (e: Error) => void,
  ) {}

  get pendingRows(): number {
    return this.pendingCount;
  }

  add(table: TableName, rows: Cell[][]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    if (rows.length === 0) return Promise.resolve();
    let list = this.pending.get(table);
    if (!list) this.pending.set(table, (list = []));
    for (const r of rows) list.push(r);
    this.pendingCount += rows.length;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    done.catch(() => {}); // callers may ignore the promise; failures also reach onError
    if (this.pendingCount >= this.opts.maxRows) void this.flush();
    else if (!this.timer) {
      // Not unref'd: buffered rows keep the process alive until they are written (at most maxDelayMs).
      this.timer = setTimeout(() => void this.flush(), this.opts.maxDelayMs);
    }
    return done;
  }

  /** Writes everything pending now; flushes run one after another, in order. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    const count = this.pendingCount;
    const waiters = this.waiters;
    this.pending = new Map();
    this.pendingCount = 0;
    this.waiters = [];
    const run = async () => {
      if (count === 0) return;
      try {
        await this.writeBatch(batch);
        this.writtenRows += count;
        this.flushes++;
        for (const w of waiters) w.resolve();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        // Dropped, not retried: a batch the engine rejects would be rejected forever and block the rest.
        this.droppedRows += count;
        this.lastError = err.message;
        for (const w of waiters) w.reject(err);
        this.onError(err);
      }
    };
    this.chain = this.chain.then(run);
    return this.chain;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
