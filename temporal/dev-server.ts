import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributes } from '../workflows/search-attributes.js';
import { temporalCliPath } from './binaries.js';

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  stop(): Promise<void>;
}

/**
 * A local Temporal dev server for `npm start` on a laptop and for tests: `temporal server
 * start-dev` with our search attributes registered. With `dbFile` its state survives restarts.
 */
export async function startDevServer(options: { dbFile?: string; port?: number; uiPort?: number; cliPath?: string }): Promise<DevServer> {
  if (options.dbFile) mkdirSync(path.dirname(options.dbFile), { recursive: true });
  const cli = options.cliPath ?? temporalCliPath();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli ? { type: 'existing-path', path: cli } : { type: 'cached-download' },
      dbFilename: options.dbFile,
      port: options.port,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
      searchAttributes,
      log: { format: 'json', level: 'error' },
    },
  });
  return {
    address: env.address,
    uiUrl: options.uiPort ? `http://localhost:${options.uiPort}` : undefined,
    stop: () => env.teardown(),
  };
}
