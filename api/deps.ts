import type { Client } from '@temporalio/client';
import type { Mailer } from '../activities/mailer.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';

/** What the API is built from: one set per process, made by the composition root. */
export interface AppDeps {
  config: Config;
  database: Database;
  temporal: Client;
  logger: Logger;
  /** Used only for test emails; sequence emails go through the worker. */
  mailer: Mailer;
  /** Where this process's Temporal SDK exports its metrics, when the worker runs here too. */
  temporalMetricsPort?: number;
}
