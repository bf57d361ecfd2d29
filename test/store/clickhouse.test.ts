// The store suite on ClickHouse: a real clickhouse-server (Debian's 18.16) started by the test.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore, SCHEMA_VERSION } from '../../src/store/index.js';
import { parseClickHouseUrl } from '../../src/store/clickhouse.js';
import { makeFlow } from './fixtures.js';
import { CLICKHOUSE_SKIP, startClickHouse, type RunningClickHouse } from './clickhouse-server.js';
import { migrationSuite, rollupSuite, storeSuite, type OpenStore } from './suite.js';

const batch = { maxRows: 50, maxDelayMs: 200 };

describe('clickhouse store', { skip: CLICKHOUSE_SKIP }, () => {
  let ch: RunningClickHouse;
  let n = 0;
  before(async () => {
    ch = await startClickHouse();
  });
  after(async () => {
    await ch?.stop();
  });

  const open: OpenStore = (o = {}) =>
    openStore(ch.url(o.name ?? `fl_suite_${++n}`), { batch, retentionHours: 0, ...(o.migrateTo ? { migrateTo: o.migrateTo } : {}) });
  storeSuite(open);
  rollupSuite(open);
  migrationSuite(open);

  it('migrates a new database once and shares it between two stores (two servers, one ClickHouse)', async () => {
    const url = ch.url('fl_shared');
    const [a, b] = [await openStore(url, { retentionHours: 0 }), await openStore(url, { retentionHours: 0 })];
    try {
      assert.equal(await a.schemaVersion(), SCHEMA_VERSION);
      const f = makeFlow({ tsNs: 77n });
      // the same snapshot arriving through both servers is counted once
      await Promise.all([a.writeFlows([f]), b.writeFlows([f])]);
      const seen = await b.queryFlows({ fromNs: 0n, toNs: 100n });
      assert.deepEqual(seen, [f]);
      assert.equal((await a.edgeTotals())[0]!.flows, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('parses store URLs and reports an unreachable server clearly', async () => {
    assert.deepEqual(parseClickHouseUrl('clickhouse://u:p%40ss@db.example:9123/metrics'), {
      baseUrl: 'http://db.example:9123/',
      database: 'metrics',
      user: 'u',
      password: 'p@ss',
    });
    assert.throws(() => parseClickHouseUrl('clickhouse://h/bad-name;drop'), /invalid ClickHouse database/);
    await assert.rejects(openStore('clickhouse://127.0.0.1:1/x'), /unreachable/);
  });
});
