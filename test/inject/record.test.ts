// Every injection, stop and expiry lands in the store's `faults` table (timeline + RCA ground truth).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InjectEngine } from '../../src/inject/index.js';
import { recordFaultEvents } from '../../src/inject/record.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { injectSkipReason, sleep, tempRegistry } from './helpers.js';

const skip = injectSkipReason();
let pair: NetnsPair;
let store: Store;

before(async () => {
  if (skip) return;
  pair = createNetnsPair();
  store = await openStore(':memory:');
});

after(async () => {
  await store?.close();
  pair?.destroy();
});

test('inject, stop and expiry are recorded as rows of the faults table', { skip }, async () => {
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const engine = new InjectEngine({ registry: tempRegistry(), onEvent: recordFaultEvents(store) });
  try {
    const a = engine.inject({ kind: 'blackhole', ttlSec: 30, label: 'db partition', scope: { netns: pair.a.name, remotePort: 5432 } });
    const b = engine.inject({ kind: 'refuse', ttlSec: 0.3, scope: { netns: pair.a.name, remotePort: 6379 } });
    engine.stop(a.id);
    await sleep(500); // b expires
    await store.flush();
    const rows = await store.list('faults', { fromNs: t0, toNs: t0 + 60_000_000_000n });
    const seen = rows.map((r) => `${r.id} ${r.kind} ${r.state}`).sort();
    assert.deepEqual(seen, [`${a.id} blackhole injected`, `${a.id} blackhole stopped`, `${b.id} refuse expired`, `${b.id} refuse injected`].sort());
    const row = rows.find((r) => r.id === a.id && r.state === 'injected')!;
    assert.equal(row.target, 'blackhole [netns=' + pair.a.name + ' rport=5432]');
    assert.equal((row.data as { spec: { label: string } }).spec.label, 'db partition');
  } finally {
    engine.close();
  }
});
