// MySQL protocol parser against MariaDB: handshake, COM_QUERY with OK / result sets / ERR packets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { saveFixture, startTcpCapture, toChunks, type TcpCapture } from './capture.js';
import { parseAll } from './parse-helpers.js';
import { run, startMariadb, type RunningServer } from './servers.js';
import type { MysqlRecord } from '../../src/protocols/types.js';

const FIXTURES = new URL('../fixtures/protocols/', import.meta.url).pathname;
const SAVE = process.env.FL_SAVE_FIXTURES === '1';

let db: RunningServer | null = null;
let cap: TcpCapture;

describe('mysql against mariadb', { timeout: 90000 }, () => {
  before(async () => {
    db = await startMariadb();
    if (db) cap = await startTcpCapture(db.port);
  });
  after(async () => {
    await cap?.close();
    await db?.stop();
  });

  it('mariadb client: handshake, DDL/DML OKs, result sets, ERR with code', async (t) => {
    if (!db) return t.skip('mariadb-server not installed (apt-get install mariadb-server)');
    const stmts = [
      'CREATE DATABASE shop',
      'CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20))',
      "INSERT INTO shop.items VALUES (1, 'a'), (2, 'b'), (3, 'c')",
      'SELECT name FROM shop.items WHERE id >= 2',
      "UPDATE shop.items SET name = 'z' WHERE id = 3",
      'SELECT COUNT(*) FROM shop.items',
      'SELECT * FROM shop.no_such_table', // last: the client stops at the first error
    ];
    const r = await run('mariadb', ['-h', '127.0.0.1', '-P', String(cap.port), '-u', 'root', '--skip-ssl', '--force', '-e', stmts.join(';\n')]);
    const errs = [...r.stderr.matchAll(/ERROR (\d+) \(([0-9A-Z]{5})\)/g)].map((m) => m[1]);
    assert.equal(errs.length, 1, r.stderr);
    await new Promise((res) => setTimeout(res, 50));
    const conn = cap.connections[cap.connections.length - 1];
    if (SAVE) saveFixture(`${FIXTURES}mysql-mariadb-cli.json`, 'mariadb -e with 7 statements (--skip-ssl)', 'mariadb-server 10.11', conn);

    for (const head of [Infinity, 128, 32]) {
      for (const persp of ['client', 'server'] as const) {
        const label = `head=${head} ${persp}`;
        const { records, protocol, stats } = parseAll(toChunks(conn, head, persp));
        assert.equal(protocol, 'mysql', label);
        const m = records as MysqlRecord[];
        assert.equal(m[0].method, 'CONNECT', label);
        assert.equal(m[0].status, 'OK', label);
        const ours = m.filter((x) => x.command === 'COM_QUERY').slice(-stmts.length);
        assert.deepEqual(
          ours.map((x) => x.method),
          stmts.map((s) => s.split(' ')[0]),
          label,
        );
        assert.deepEqual(ours.filter((x) => x.error).map((x) => x.status), errs, label);
        if (head === Infinity) {
          assert.equal(ours[3].rows, 2);
          assert.equal(ours[5].rows, 1);
          assert.equal(ours[2].affectedRows, 3);
          assert.equal(ours[4].affectedRows, 1);
          assert.equal(ours[6].sqlstate, '42S02');
          assert.equal(ours[3].target, 'SELECT name FROM shop.items WHERE id >= ?');
        }
        assert.equal(stats.parseErrors, 0, label);
      }
    }
  });
});
