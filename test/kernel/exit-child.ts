// Child process for cleanup.test.ts / errors.test.ts: attaches a tracepoint and (optionally) a tc
// filter, prints "ready", then ends the way argv[2] says. The parent checks nothing stays attached.
import { BpfObject } from '../../src/kernel/index.js';
import { FIXTURE } from './helpers.js';

const [mode, netns, ifname, tcMode] = process.argv.slice(2);

if (mode === 'load') { // privilege test: report the error as JSON
  try {
    BpfObject.load(FIXTURE);
    console.log(JSON.stringify({ ok: true }));
  } catch (err) {
    const e = err as Error & { code?: string };
    console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, message: e.message }));
  }
  process.exit(0);
}

const obj = BpfObject.load(FIXTURE);
obj.program('count_write').attachTracepoint('syscalls', 'sys_enter_write');
if (netns) obj.program('tc_count').attachTc({ netns, ifname, direction: 'ingress', mode: tcMode === 'tcx' ? 'tcx' : 'netlink' });
console.log('ready');

// the parent checks the attachment, then says "go" (or sends a signal)
process.stdin.once('data', () => end());
setInterval(() => {}, 1000);

function end(): void {
  switch (mode) {
    case 'wait':
      break;
    case 'throw':
      throw new Error('boom from the child');
    case 'reject':
      void Promise.reject(new Error('rejected in the child'));
      break;
    case 'exit':
      process.exit(3);
    default:
      console.error(`unknown mode ${mode}`);
      process.exit(2);
  }
}
