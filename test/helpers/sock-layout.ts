// The sock_event layout of the built bpf/.output/sock.bpf.o, read from its BTF (builds it when missing).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sockLayoutFrom, type SockLayout } from '../../src/collect/sock-decoder.js';
import { btfStructLayout } from './btf-layout.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const SOCK_OBJECT = join(REPO_ROOT, 'bpf', '.output', 'sock.bpf.o');

export function buildSockObject(): string {
  execFileSync('make', ['-s', '-C', join(REPO_ROOT, 'bpf'), '.output/sock.bpf.o'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(SOCK_OBJECT)) throw new Error(`${SOCK_OBJECT} was not built`);
  return SOCK_OBJECT;
}

export function sockLayoutFromBtf(): SockLayout {
  const st = btfStructLayout(buildSockObject(), 'sock_event');
  return sockLayoutFrom(st.size, (name) => st.fields.get(name));
}
