// Redis RESP parser against redis-server traffic from redis-cli (one command at a time, and --pipe).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTcpCapture, toChunks, saveFixture, type TcpCapture } from './capture.js';
import { parseAll, sum } from './parse-helpers.js';
import { run, startRedis, type RunningServer } from './servers.js';
import type { RedisRecord } from '../../src/protocols/types.js';

const FIXTURES = new URL('../fixtures/protocols/', import.meta.url).pathname;
const SAVE = process.env.FL_SAVE_FIXTURES === '1';

let redis: RunningServer | null = null;
let cap: TcpCapture;

describe('redis against redis-server', { timeout: 60000 }, () => {
  before(async () => {
    redis = await startRedis();
    if (redis) cap = await startTcpCapture(redis.port);
  });
  after(async () => {
    await cap?.close();
    await redis?.stop();
  });

  it('redis-cli session: commands, keys, error replies, big values, at any head size', async (t) => {
    if (!redis) return t.skip('redis-server not installed (apt-get install redis-server)');
    const big = 'v'.repeat(50_000);
    const cmds = [
      ['SET', 'user:1', 'hello'],
      ['GET', 'user:1'],
      ['RPUSH', 'list:a', 'x', 'y', 'z'],
      ['LRANGE', 'list:a', '0', '-1'],
      ['INCR', 'user:1'], // ERR value is not an integer
      ['GET', 'list:a'], // WRONGTYPE
      ['HSET', 'h:1', 'f1', 'v1', 'f2', 'v2'],
      ['HGETALL', 'h:1'],
      ['SET', 'big', big],
      ['GET', 'big'],
      ['NOSUCHCOMMAND', 'x'], // ERR unknown command
      ['DEL', 'user:1', 'list:a'],
    ];
    const input = cmds.map((c) => c.join(' ')).join('\n') + '\n';
    const r = await run('redis-cli', ['-p', String(cap.port), '--no-raw'], input);
    assert.equal(r.status, 0, r.stderr);
    // The client's own view of which replies were errors, and their codes.
    const errors = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('(error) '))
      .map((l) => l.slice(8).split(' ')[0]);
    assert.deepEqual(errors.length, 3, r.stdout);
    await new Promise((res) => setTimeout(res, 50));
    const conn = cap.connections[cap.connections.length - 1];
    if (SAVE) saveFixture(`${FIXTURES}redis-cli-session.json`, 'redis-cli --no-raw, one command at a time', 'redis-server 7.0', conn);

    for (const head of [Infinity, 1024, 64, 16]) {
      for (const persp of ['client', 'server'] as const) {
        const { records, stats, protocol } = parseAll(toChunks(conn, head, persp));
        const label = `head=${head} ${persp}`;
        assert.equal(protocol, 'redis', label);
        // redis-cli may add its own commands (e.g. COMMAND DOCS); ours are the last ones
        const ours = records.slice(-cmds.length) as RedisRecord[];
        // a name cut by a tiny head is a prefix and flagged truncated
        ours.forEach((x, i) => assert.ok(x.method === cmds[i][0] || (x.truncated && cmds[i][0].startsWith(x.method)), `${label} #${i} ${x.method}`));
        if (head >= 64) assert.deepEqual(ours.map((x) => x.method), cmds.map((c) => c[0]), label);
        if (head >= 64) assert.deepEqual(ours.map((x) => x.target), cmds.map((c) => c[1]), label);
        assert.deepEqual(ours.filter((x) => x.error).map((x) => x.status), errors, label);
        assert.deepEqual(
          ours.map((x) => x.args),
          cmds.map((c) => c.length),
          label,
        );
        assert.equal(sum(records.map((x) => x.respBytes)), sum(conn.filter((c) => c.dir === 'recv').map((c) => c.bytes.length)), label);
        assert.equal(stats.parseErrors, 0, label);
      }
    }
  });

  it('redis-cli --pipe: 2000 pipelined commands paired FIFO', async (t) => {
    if (!redis) return t.skip('redis-server not installed (apt-get install redis-server)');
    const n = 2000;
    let input = '';
    const resp = (...a: string[]) => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('');
    for (let i = 0; i < n; i++) input += i % 100 === 99 ? resp('LPUSH', `k:${i - 1}`, 'x') : i % 2 ? resp('GET', `k:${i - 1}`) : resp('SET', `k:${i}`, `value-${i}`);
    const r = await run('redis-cli', ['-p', String(cap.port), '--pipe'], input);
    assert.ok(r.status === 0 || r.status === 1, r.stdout + r.stderr); // 1: some replies were errors
    const m = /errors: (\d+), replies: (\d+)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout);
    await new Promise((res) => setTimeout(res, 50));
    const conn = cap.connections[cap.connections.length - 1];
    if (SAVE) saveFixture(`${FIXTURES}redis-cli-pipe.json`, 'redis-cli --pipe, 2000 commands', 'redis-server 7.0', conn);
    const { records, stats } = parseAll(toChunks(conn));
    // --pipe appends an ECHO with a random marker to know when all replies arrived.
    assert.equal(records.length, Number(m[2]) + 1);
    assert.equal(records[records.length - 1].method, 'ECHO');
    assert.equal(records.filter((x) => x.error).length, Number(m[1]));
    assert.ok(records.filter((x) => x.error).every((x) => x.status === 'WRONGTYPE'));
    assert.equal(records[0].method, 'SET');
    assert.equal(records[1].method, 'GET');
    assert.equal(records[1].target, 'k:0');
    assert.equal(stats.orphanResponses, 0);
  });
});
