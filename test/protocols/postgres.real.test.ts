// PostgreSQL parser against a real postgres: psql (SSLRequest refused, startup, simple queries, an error)
// and a minimal extended-protocol client written here (Parse/Bind/Describe/Execute/Sync, errors, batches).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTcpCapture, toChunks, saveFixture, type TcpCapture } from './capture.js';
import { parseAll, summary, sum } from './parse-helpers.js';
import { run, startPostgres, type RunningServer } from './servers.js';
import type { PostgresRecord } from '../../src/protocols/types.js';

const FIXTURES = new URL('../fixtures/protocols/', import.meta.url).pathname;
const SAVE = process.env.FL_SAVE_FIXTURES === '1';

let pg: RunningServer | null = null;
let cap: TcpCapture;

/** Frontend message: type byte + int32 length + body. */
function msg(type: string, ...parts: (string | Buffer)[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p + '\0') : p)));
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([h, body]);
}
function int16(...v: number[]): Buffer {
  const b = Buffer.alloc(2 * v.length);
  v.forEach((x, i) => b.writeInt16BE(x, 2 * i));
  return b;
}
function bindText(portal: string, stmt: string, params: string[]): Buffer {
  const vals = params.map((p) => {
    const l = Buffer.alloc(4);
    l.writeInt32BE(Buffer.byteLength(p));
    return Buffer.concat([l, Buffer.from(p)]);
  });
  return msg('B', portal, stmt, int16(0), int16(params.length), ...vals, int16(0));
}
const execute = (portal = '') => msg('E', portal, Buffer.alloc(4));
const sync = () => msg('S');

/** A tiny wire client: writes a batch and collects server messages until `readyCount` ReadyForQuery. */
class WireClient {
  private buf = Buffer.alloc(0);
  private waiters: { n: number; got: { type: string; body: Buffer }[]; res: (m: { type: string; body: Buffer }[]) => void }[] = [];
  constructor(private readonly s: net.Socket) {
    s.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 5 && this.buf.length >= 1 + this.buf.readUInt32BE(1)) {
        const len = this.buf.readUInt32BE(1);
        const m = { type: String.fromCharCode(this.buf[0]), body: this.buf.subarray(5, 1 + len) };
        this.buf = this.buf.subarray(1 + len);
        const w = this.waiters[0];
        if (!w) continue;
        w.got.push(m);
        if (m.type === 'Z' && --w.n === 0) {
          this.waiters.shift();
          w.res(w.got);
        }
      }
    });
  }
  send(data: Buffer, readyCount = 1): Promise<{ type: string; body: Buffer }[]> {
    return new Promise((res) => {
      this.waiters.push({ n: readyCount, got: [], res });
      this.s.write(data);
    });
  }
}

describe('postgres against postgresql', { timeout: 60000 }, () => {
  before(async () => {
    pg = await startPostgres();
    if (pg) cap = await startTcpCapture(pg.port);
  });
  after(async () => {
    await cap?.close();
    await pg?.stop();
  });

  it('psql: SSLRequest refused, startup, simple queries, an error with its SQLSTATE', async (t) => {
    if (!pg) return t.skip('postgresql not installed (apt-get install postgresql)');
    const stmts = [
      'CREATE TABLE items (id int primary key, name text)',
      "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')",
      'SELECT name FROM items WHERE id = 2',
      'SELECT * FROM no_such_table',
      "UPDATE items SET name = 'z' WHERE id > 1",
    ];
    const r = await run('psql', ['-X', '-h', '127.0.0.1', '-p', String(cap.port), '-U', 'postgres', '-d', 'postgres', '-v', 'VERBOSITY=verbose', ...stmts.flatMap((s) => ['-c', s])], '', {
      ...process.env,
      PGSSLMODE: 'prefer',
      PGGSSENCMODE: 'disable',
    });
    const sqlstates = [...r.stderr.matchAll(/ERROR:\s+([0-9A-Z]{5}):/g)].map((m) => m[1]);
    assert.equal(sqlstates.length, 1, r.stderr);
    const tags = r.stdout.split('\n').filter((l) => /^(CREATE TABLE|INSERT \d+ \d+|UPDATE \d+)$/.test(l));
    await new Promise((res) => setTimeout(res, 50));
    const conn = cap.connections[cap.connections.length - 1];
    if (SAVE) saveFixture(`${FIXTURES}postgres-psql.json`, 'psql -c x5 (sslmode=prefer refused, trust auth)', 'postgresql 15', conn);

    for (const head of [Infinity, 256, 64, 24]) {
      for (const persp of ['client', 'server'] as const) {
        const { records, stats, protocol } = parseAll(toChunks(conn, head, persp));
        const label = `head=${head} ${persp}`;
        assert.equal(protocol, 'postgres', label);
        const pr = records as PostgresRecord[];
        assert.equal(pr[0].method, 'STARTUP', label);
        assert.equal(pr[0].target, 'postgres', label);
        assert.equal(pr[0].status, 'OK', label);
        const q = pr.slice(1);
        assert.deepEqual(
          q.map((x) => x.method),
          stmts.map((s) => s.split(' ')[0]),
          label,
        );
        // a head too short to reach the SQLSTATE field reports the severity, flagged truncated
        assert.deepEqual(q.filter((x) => x.error).map((x) => (x.status === 'ERROR' && x.truncated && head < 32 ? sqlstates[0] : x.status)), sqlstates, label);
        assert.deepEqual(q.filter((x) => x.commandTag && x.method !== 'SELECT').map((x) => x.commandTag), tags, label);
        if (head === Infinity) {
          assert.deepEqual(summary(q, ['target']), [
            'CREATE TABLE items (id int primary key, name text)',
            'INSERT INTO items VALUES (?)', // tuples collapse so batch sizes do not multiply targets
            'SELECT name FROM items WHERE id = ?',
            'SELECT * FROM no_such_table',
            'UPDATE items SET name = ? WHERE id > ?',
          ]);
          assert.equal(q[2].rows, 1);
          assert.match(q[3].errorText ?? '', /no_such_table/);
          assert.equal(sum(records.map((x) => x.reqBytes)) + 8 /* SSLRequest */ + 5 /* Terminate */, sum(conn.filter((c) => c.dir === 'send').map((c) => c.bytes.length)));
        }
        assert.equal(stats.parseErrors, 0, label);
      }
    }
  });

  it('extended protocol: Parse/Bind/Execute/Sync, errors, batched executes', async (t) => {
    if (!pg) return t.skip('postgresql not installed (apt-get install postgresql)');
    const s = net.connect(cap.port, '127.0.0.1');
    await new Promise<void>((res) => s.on('connect', () => res()));
    const c = new WireClient(s);
    const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
    const startup = Buffer.alloc(8);
    startup.writeUInt32BE(8 + params.length);
    startup.writeUInt32BE(196608, 4);
    await c.send(Buffer.concat([startup, params]));
    const r1 = await c.send(Buffer.concat([msg('P', '', 'SELECT $1::int + 41 AS answer', int16(0)), bindText('', '', ['1']), msg('D', 'P'), execute(), sync()]));
    assert.ok(r1.some((m) => m.type === 'C'));
    const r2 = await c.send(Buffer.concat([msg('P', 's_bad', 'SELECT * FROM missing_relation WHERE id = $1', int16(0)), bindText('', 's_bad', ['5']), execute(), sync()]));
    const err = r2.find((m) => m.type === 'E')!;
    const code = /C([0-9A-Z]{5})\0/.exec(err.body.toString('latin1'))![1];
    // a JDBC-style batch: one named statement, three executes, one Sync
    const batch = [msg('P', 's_ins', 'SELECT generate_series(1, $1::int)', int16(0))];
    for (const n of ['3', '5', '7']) batch.push(bindText('', 's_ins', [n]), execute());
    batch.push(sync());
    const r3 = await c.send(Buffer.concat(batch));
    const tags3 = r3.filter((m) => m.type === 'C').map((m) => m.body.toString('latin1').replace(/\0$/, ''));
    // a failing statement in the middle of a batch: the server skips the rest until Sync
    const bad = [bindText('', 's_ins', ['2']), execute(), bindText('', 's_ins', ['not-a-number']), execute(), bindText('', 's_ins', ['4']), execute(), sync()];
    const r4 = await c.send(Buffer.concat(bad));
    const code4 = /C([0-9A-Z]{5})\0/.exec(r4.find((m) => m.type === 'E')!.body.toString('latin1'))![1];
    s.end(msg('X'));
    await new Promise((res) => setTimeout(res, 50));
    const conn = cap.connections[cap.connections.length - 1];
    if (SAVE) saveFixture(`${FIXTURES}postgres-extended.json`, 'minimal wire client: extended protocol, errors, batches', 'postgresql 15', conn);

    for (const head of [Infinity, 128, 48]) {
      const { records, stats } = parseAll(toChunks(conn, head));
      const pr = records as PostgresRecord[];
      const label = `head=${head}`;
      const expected = ['startup OK', 'extended SELECT', `extended ${code}`, 'extended SELECT', 'extended SELECT', 'extended SELECT', 'extended SELECT', `extended ${code4}`];
      if (head === Infinity) assert.deepEqual(pr.map((x) => `${x.queryMode} ${x.status}`), expected);
      // Short heads cut batches: what cannot be seen is reported incomplete, never as someone else's answer.
      if (head >= 128) {
        assert.equal(pr.length, expected.length, label);
        pr.forEach((x, i) => assert.ok(x.incomplete || `${x.queryMode} ${x.status}` === expected[i], `${label} #${i}: ${x.queryMode} ${x.status}`));
        assert.ok(pr.filter((x) => !x.incomplete).length >= 5, label);
      } else {
        // 48 bytes show one Bind/Execute of a 3-execute write: fewer records, each still right or incomplete
        assert.ok(pr.length <= expected.length && pr.length >= 4, label);
        assert.equal(`${pr[0].queryMode} ${pr[0].status}`, expected[0], label);
        pr.forEach((x) => assert.ok(x.incomplete || expected.includes(`${x.queryMode} ${x.status}`) || (x.status === 'ERROR' && x.truncated), label));
        assert.ok(pr.filter((x) => x.error).every((x) => /missing_relation|generate_series/.test(x.statement)), label);
      }
      if (head === Infinity) {
        assert.equal(pr[1].target, 'SELECT $1::int + ? AS answer');
        assert.equal(pr[2].target, 'SELECT * FROM missing_relation WHERE id = $1');
        assert.deepEqual(pr.slice(3, 6).map((x) => x.commandTag), tags3);
        assert.deepEqual(pr.slice(3, 6).map((x) => x.rows), [3, 5, 7]);
        assert.equal(pr[7].error, true);
      }
      assert.equal(stats.parseErrors, 0, label);
    }
  });
});
