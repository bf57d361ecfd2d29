// The Store on top of any Engine: batching, migrations, queries and retention are engine independent.
import { Batcher } from './batcher.js';
import { cellsToRecord, flowToRecord, recordToCells, recordToFlow, toBig, toNum, type Cell } from './codec.js';
import type { Engine } from './engine.js';
import { edgeTotalsSql, flowsSql, listSql } from './queries.js';
import { MIGRATIONS, TABLE_NAMES, TABLES, type TableName } from './schema.js';
import { mergeRollupRows, ROLLUP_SPEC, ROLLUP_TABLE, rollupSql, RollupAccumulator, type RollupQuery, type RollupSeries } from './rollup.js';
import type { EdgeTotals, FlowQuery, FlowSnapshot, ListQuery, Row, Store, StoreOptions, StoreStats, TimeRange } from './types.js';

export const DEFAULT_BATCH = { maxRows: 5000, maxDelayMs: 1000 };
export const DEFAULT_RETENTION_HOURS = 24;
export const DEFAULT_ROLLUP_RETENTION_HOURS = 24 * 30;
/** A minute's rollup is written this long after it ended: rows of agents a few ticks late still fit. */
const ROLLUP_GRACE_NS = 15_000_000_000n;

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export class SqlStore implements Store {
  private readonly batcher: Batcher;
  private retentionTimer: NodeJS.Timeout | undefined;
  private version = 0;
  private readonly retentionHours: number;
  private readonly migrateTo: number | undefined;
  private readonly rollupRetentionHours: number;
  private readonly rollups = new RollupAccumulator();
  private rollupWrite: Promise<void> = Promise.resolve();
  private readonly rollupTimer: NodeJS.Timeout;
  private readonly onError: (e: Error) => void;
  rollupRowsWritten = 0;
  rollupRowsDropped = 0;

  private constructor(
    private readonly db: Engine,
    opts: StoreOptions,
  ) {
    const onError = opts.onError ?? ((e: Error) => console.error(`faultlens store: ${e.message}`));
    this.batcher = new Batcher({ ...DEFAULT_BATCH, ...opts.batch }, (b) => this.writeBatch(b), onError);
    this.retentionHours = opts.retentionHours ?? DEFAULT_RETENTION_HOURS;
    this.migrateTo = opts.migrateTo;
    this.onError = onError;
    this.rollupRetentionHours = opts.rollupRetentionHours ?? DEFAULT_ROLLUP_RETENTION_HOURS;
    this.rollupTimer = setInterval(() => void this.writeRollups(nowNs() - ROLLUP_GRACE_NS), 10_000);
    this.rollupTimer.unref();
    if (this.retentionHours > 0) {
      this.retentionTimer = setInterval(
        () => void this.applyRetention().catch((e: Error) => onError(e)),
        opts.retentionIntervalMs ?? 5 * 60_000,
      );
      this.retentionTimer.unref();
    }
  }

  static async open(db: Engine, opts: StoreOptions = {}): Promise<SqlStore> {
    let s: SqlStore | undefined;
    try {
      s = new SqlStore(db, opts);
      await s.migrate();
      return s;
    } catch (e) {
      if (s) s.stopTimers();
      await db.close().catch(() => {});
      throw e;
    }
  }

  private stopTimers(): void {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    clearInterval(this.rollupTimer);
  }

  get engine() {
    return this.db.dialect.engine;
  }

  private async migrate(): Promise<void> {
    const d = this.db.dialect;
    const vt = d.table('schema_version');
    await this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${vt} (version ${d.columnType({ name: 'version', kind: 'i32' })}, applied_ns ${d.columnType({ name: 'applied_ns', kind: 'i64' })})${d.createTableSuffix({ orderBy: 'version' })}`,
    );
    this.version = await this.schemaVersion();
    const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    if (this.version > newest)
      throw new Error(`store schema version ${this.version} is newer than this faultlens (${newest}); upgrade faultlens`);
    const target = this.migrateTo ?? newest;
    for (const m of MIGRATIONS) {
      if (m.version <= this.version || m.version > target) continue;
      for (const sql of m.statements(d)) {
        try {
          await this.db.exec(sql);
        } catch (e) {
          // another server migrating the same ClickHouse at the same moment got there first
          if (!/already exists|duplicate column/i.test((e as Error).message)) throw e;
        }
      }
      await this.db.exec(`INSERT INTO ${vt} (version, applied_ns) VALUES (${m.version}, ${nowNs()})`);
      this.version = m.version;
    }
  }

  async schemaVersion(): Promise<number> {
    const rows = await this.db.query(`SELECT max(version) AS v FROM ${this.db.dialect.table('schema_version')}`);
    const v = rows[0]?.v;
    return v === null || v === undefined ? 0 : toNum(v);
  }

  private async writeBatch(batch: Map<TableName, Cell[][]>): Promise<void> {
    for (const [table, rows] of batch) await this.db.insert(TABLES[table], rows);
  }

  writeFlows(flows: FlowSnapshot[]): Promise<void> {
    const spec = TABLES.flows;
    let cells: Cell[][];
    try {
      cells = flows.map((f) => recordToCells(spec, flowToRecord(f)));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.batcher.add('flows', cells);
  }

  write(table: Exclude<TableName, 'flows'>, rows: Row[]): Promise<void> {
    const spec = TABLES[table];
    if (!spec) return Promise.reject(new Error(`unknown table ${String(table)}`));
    let cells: Cell[][];
    try {
      cells = rows.map((r) => recordToCells(spec, r));
    } catch (e) {
      return Promise.reject(e);
    }
    if (table === 'requests') this.rollups.add(rows);
    return this.batcher.add(table, cells);
  }

  /** Raw rows pending now, and the rollups of minutes closed (with their grace) by now. */
  async flush(): Promise<void> {
    await this.batcher.flush();
    await this.writeRollups(nowNs() - ROLLUP_GRACE_NS);
  }

  /** Writes the rollups of minutes that ended before `beforeNs` (one write at a time, in order). */
  private writeRollups(beforeNs: bigint): Promise<void> {
    const cells = this.rollups.drain(beforeNs);
    if (!cells.length) return this.rollupWrite;
    this.rollupWrite = this.rollupWrite.then(() =>
      this.db.insert(ROLLUP_SPEC, cells).then(
        () => void (this.rollupRowsWritten += cells.length),
        (e: Error) => {
          this.rollupRowsDropped += cells.length;
          this.onError(new Error(`RED rollup write of ${cells.length} rows failed: ${e.message}`));
        },
      ),
    );
    return this.rollupWrite;
  }

  async redRollup(q: RollupQuery): Promise<RollupSeries[]> {
    return mergeRollupRows(await this.db.query(rollupSql(this.db.dialect, q)), q);
  }

  async queryFlows(q: FlowQuery): Promise<FlowSnapshot[]> {
    const rows = await this.db.query(flowsSql(this.db.dialect, q));
    return rows.map((r) => recordToFlow(cellsToRecord(TABLES.flows, r, 'l_')));
  }

  topFlowsByBytes(range: TimeRange, limit = 20): Promise<FlowSnapshot[]> {
    return this.queryFlows({ ...range, order: 'bytes', limit });
  }

  async edgeTotals(range?: TimeRange): Promise<EdgeTotals[]> {
    const rows = await this.db.query(edgeTotalsSql(this.db.dialect, range));
    return rows.map((r) => ({
      client: String(r.e_client),
      server: String(r.e_server),
      clientIp: String(r.e_client_ip),
      serverIp: String(r.e_server_ip),
      serverPort: toNum(r.e_port),
      proto: String(r.e_proto),
      flows: toNum(r.e_flows),
      bytesClientToServer: toBig(r.e_c2s),
      bytesServerToClient: toBig(r.e_s2c),
      calls: toBig(r.e_calls),
      errors: toBig(r.e_errors),
    }));
  }

  async list(table: Exclude<TableName, 'flows'>, q: ListQuery): Promise<Row[]> {
    const rows = await this.db.query(listSql(this.db.dialect, table, q));
    return rows.map((r) => cellsToRecord(TABLES[table], r) as Row);
  }

  async applyRetention(olderThanNs?: bigint, rollupOlderThanNs?: bigint): Promise<bigint> {
    const hoursAgo = (h: number) => nowNs() - BigInt(Math.round(h * 3600)) * 1_000_000_000n;
    const cut = olderThanNs ?? hoursAgo(this.retentionHours);
    for (const t of TABLE_NAMES) await this.db.exec(this.db.dialect.deleteOlderThan(this.db.dialect.table(t), cut));
    // rollups outlive raw rows: their own cut-off, none when their retention is off
    const rollupCut = rollupOlderThanNs ?? (this.rollupRetentionHours > 0 ? hoursAgo(this.rollupRetentionHours) : undefined);
    if (rollupCut !== undefined && this.version >= 3) await this.db.exec(this.db.dialect.deleteOlderThan(this.db.dialect.table(ROLLUP_TABLE), rollupCut));
    return cut;
  }

  stats(): StoreStats {
    const b = this.batcher;
    const s: StoreStats = {
      engine: this.engine,
      location: this.db.location,
      schemaVersion: this.version,
      pendingRows: b.pendingRows,
      writtenRows: b.writtenRows,
      droppedRows: b.droppedRows,
      flushes: b.flushes,
    };
    if (b.lastError) s.lastFlushError = b.lastError;
    return s;
  }

  async close(): Promise<void> {
    this.stopTimers();
    await this.batcher.close();
    await this.writeRollups(BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000_000n); // the open minutes too
    await this.db.close();
  }
}
