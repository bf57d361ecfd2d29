#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (scripts/build.sh produces dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error(`faultlens is not built yet: run ${join(root, 'faultlens')} (it bootstraps) or npm run build`);
  process.exit(2);
}
await import(entry);
