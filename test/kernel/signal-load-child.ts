// Child process for errors.test.ts: loads the object named by argv[2] while its parent floods it with
// SIGUSR2 (a no-op handler here), and prints the outcome as JSON.
import { BpfObject } from '../../src/kernel/index.js';

process.on('SIGUSR2', () => {});
console.log('ready');
process.stdin.once('data', () => {
  try {
    BpfObject.load(process.argv[2]).close();
    console.log(JSON.stringify({ ok: true }));
  } catch (err) {
    const e = err as Error & { code?: string };
    console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, message: e.message.split('\n')[0] }));
  }
  process.exit(0);
});
