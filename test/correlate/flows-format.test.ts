import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowToJson, formatFlowTable, humanBytes, matchesFilter } from '../../src/correlate/flows-format.js';
import type { Flow } from '../../src/model/flow.js';

function flow(over: Partial<Flow>): Flow {
  return {
    id: 'x', netns: 1, proto: 'tcp', client: { ip: '10.0.0.1', port: 40000 }, server: { ip: '10.0.0.2', port: 80 },
    socketCookies: [1n], firstSeenNs: 5n, lastSeenNs: 9n, bytesClientToServer: 10, bytesServerToClient: 20,
    callsClientToServer: 1, callsServerToClient: 2, errors: {}, ...over,
  };
}

test('table: sorted by total bytes, owners, errors, IPv6 brackets, row limit', () => {
  const flows = [
    flow({ id: 'small' }),
    flow({ id: 'big', client: { ip: 'fd00::1', port: 5 }, bytesServerToClient: 5 << 20, errors: { ECONNRESET: 2 },
      clientProc: { pid: 7, comm: 'curl', cgroupId: 1n }, closedNs: 10n }),
    flow({ id: 'mid', bytesClientToServer: 5000 }),
  ];
  const lines = formatFlowTable(flows, { rows: 2, width: 160 }).split('\n');
  assert.match(lines[0], /^PROTO\s+CLIENT/);
  assert.match(lines[1], /\[fd00::1\]:5 .* 5\.0M .* curl\/7 .* closed ECONNRESET×2/);
  assert.match(lines[2], /10\.0\.0\.1:40000 .* 4\.9K/);
  assert.equal(lines[3], '… 1 more flows');
  assert.equal(humanBytes(1023), '1023B');
});

test('filters by netns (either end) and pid (either end); JSON keeps bigints as strings', () => {
  const f = flow({ clientNetns: 1, serverNetns: 2, serverProc: { pid: 99, comm: 's', cgroupId: 3n } });
  assert.ok(matchesFilter(f, { netns: 2 }));
  assert.ok(!matchesFilter(f, { netns: 3 }));
  assert.ok(matchesFilter(f, { pid: 99 }));
  assert.ok(!matchesFilter(f, { pid: 98 }));
  const j = JSON.parse(flowToJson(f, { type: 'flow' }));
  assert.equal(j.type, 'flow');
  assert.equal(j.firstSeenNs, '5');
  assert.equal(j.serverProc.cgroupId, '3');
});
