#!/usr/bin/env node
// `npm run build`: the production code compiled to JavaScript in dist/, with what it reads at run
// time beside it, so `node dist/server.js`, `node dist/worker.js` and `node dist/start.js` run
// without tsx: tsc (tsconfig.build.json), then the compose thread (plain JavaScript, loaded by
// path) and the SQL migrations (read by db/client.ts from its own folder).
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const assets = ['domain/compose-thread.mjs', 'db/migrations'];

rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')],
  {
    stdio: 'inherit',
  },
);
for (const asset of assets) cpSync(path.join(root, asset), path.join(dist, asset), { recursive: true });
console.log(`build: dist/ written (tsc, plus ${assets.join(', ')})`);
