// Route and SQL normalisation: pure functions, table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalisePath, OTHER_ROUTE, RouteNormaliser } from '../../src/protocols/route.js';
import { normaliseSql, sqlVerb } from '../../src/protocols/sql.js';

describe('route normalisation', () => {
  const cases: [string, string][] = [
    ['/users/123', '/users/{id}'],
    ['/users/123/orders/9?expand=1', '/users/{id}/orders/{id}'],
    ['/items/0d4c1a2e-9b7f-4c3d-8e2a-1f2b3c4d5e6f', '/items/{uuid}'],
    ['/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', '/blobs/{hash}'],
    ['/session/AbC123dEf456GhI789jKl0', '/session/{token}'],
    ['/api/v2/health', '/api/v2/health'],
    ['/', '/'],
    ['', '/'],
    ['*', '*'],
    ['/static/app.js#frag', '/static/app.js'],
    ['http://proxy.example/users/5?q', '/users/{id}'],
    ['/a//b/', '/a//b/'],
  ];
  for (const [raw, want] of cases) it(`${raw || '(empty)'} -> ${want}`, () => assert.equal(normalisePath(raw), want));

  it('caps distinct routes per service; known routes keep working past the cap', () => {
    const n = new RouteNormaliser(3);
    assert.equal(n.normalise('svc', '/a'), '/a');
    assert.equal(n.normalise('svc', '/b/1'), '/b/{id}');
    assert.equal(n.normalise('svc', '/c'), '/c');
    assert.equal(n.normalise('svc', '/d'), OTHER_ROUTE);
    assert.equal(n.normalise('svc', '/e'), OTHER_ROUTE);
    assert.equal(n.normalise('svc', '/b/2'), '/b/{id}');
    assert.equal(n.normalise('other', '/d'), '/d'); // per service
    assert.equal(n.routeCount('svc'), 3);
    assert.equal(n.overflowed, 2);
    assert.equal(n.forService('svc')('/a?x=1'), '/a');
  });
});

describe('sql normalisation', () => {
  const cases: [string, string][] = [
    ["SELECT * FROM t WHERE id = 42 AND name = 'bob'", 'SELECT * FROM t WHERE id = ? AND name = ?'],
    ["select a from t where s = 'it''s' and x = -1.5e3", 'select a from t where s = ? and x = ?'],
    ['SELECT * FROM t1 WHERE c2 IN (1, 2, 3)', 'SELECT * FROM t1 WHERE c2 IN (?)'],
    ["INSERT INTO t VALUES (1, 'a'), (2, 'b')", 'INSERT INTO t VALUES (?)'],
    ['SELECT $1::int + 41', 'SELECT $1::int + ?'],
    ['SELECT $$dollar quoted$$, $tag$x$tag$', 'SELECT ?, ?'],
    ["SELECT E'esc\\'aped', X'ff', 0x1F", 'SELECT ?, ?, ?'],
    ['SELECT "Col1" FROM `tbl` -- trailing\n WHERE a=1 /* c */', 'SELECT "Col1" FROM `tbl` WHERE a=?'],
    ['  SELECT\n\t1  ', 'SELECT ?'],
    ["SELECT 'unterminated", 'SELECT ?'],
    ['UPDATE t SET v = v - 1 WHERE id=7', 'UPDATE t SET v = v - ? WHERE id=?'],
  ];
  for (const [raw, want] of cases) it(JSON.stringify(raw), () => assert.equal(normaliseSql(raw), want));

  it('bounded output and no pathological time on hostile input', () => {
    const t0 = performance.now();
    const s = normaliseSql("'".repeat(100_000) + '1'.repeat(100_000) + '$'.repeat(50_000));
    assert.ok(s.length <= 512);
    assert.ok(performance.now() - t0 < 500);
  });

  it('verbs', () => {
    assert.equal(sqlVerb('  select 1'), 'SELECT');
    assert.equal(sqlVerb('/* hint */ INSERT INTO t'), 'INSERT');
    assert.equal(sqlVerb('-- c\nWITH x AS (SELECT 1) SELECT * FROM x'), 'WITH');
    assert.equal(sqlVerb('(SELECT 1)'), 'SELECT');
    assert.equal(sqlVerb(''), '');
  });
});
