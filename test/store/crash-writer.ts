// Child process for crash.test.ts: writes flows in durable batches, reporting each one on stdout, then
// buffers one more batch that is never flushed and waits to be SIGKILLed.
import { openStore } from '../../src/store/index.js';
import { makeFlow } from './fixtures.js';

const [file, batches, perBatch] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const store = await openStore(file, { batch: { maxRows: 100_000, maxDelayMs: 60_000 }, retentionHours: 0 });
let durable = 0;
for (let b = 0; b < batches; b++) {
  const flows = Array.from({ length: perBatch }, (_, i) => makeFlow({ tsNs: BigInt(durable + i + 1) }));
  const done = store.writeFlows(flows);
  await store.flush();
  await done;
  durable += perBatch;
  process.stdout.write(`durable ${durable}\n`);
}
void store.writeFlows(Array.from({ length: perBatch }, (_, i) => makeFlow({ tsNs: BigInt(durable + i + 1) })));
process.stdout.write(`pending ${store.stats().pendingRows}\n`);
setInterval(() => {}, 1000); // wait for the kill
