import type { Server } from 'node:http';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Express } from 'express';
import { mailerFor } from './activities/index.js';
import type { Mailer } from './activities/mailer.js';
import { createApp } from './api/app.js';
import { runPendingStartSweeper } from './api/services/workflow-starter.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { createLogger, type Logger } from './logger.js';
import { countDatabaseStatement } from './metrics.js';
import { connectClient } from './temporal/client.js';
import { startDevServer, type DevServer } from './temporal/dev-server.js';
import { installTemporalLogging } from './temporal/runtime.js';
import { createEnrolmentWorkers, type EnrolmentWorkers } from './temporal/worker.js';

// The composition root: the one place that turns a validated Config into a running service, in
// this order: logger → Temporal runtime → (dev server) → database → Temporal client → workers →
// API. server.ts, worker.ts and start.ts differ only in the parts they ask for and in what they
// print; test/helpers/service.ts builds the same parts with test doubles where it needs them.

export interface ComposeOptions {
  /** The HTTP API, with the sweeper that starts the workflows of enrolments left without one. */
  api?: boolean;
  /** The Temporal workers (main and sends task queues). */
  worker?: boolean;
  /** With TEMPORAL_ADDRESS unset, a Temporal dev server whose state lives in DATA_DIR (`npm start`). */
  devServer?: boolean;
  /** Human-readable logs unless LOG_PRETTY says otherwise (`npm start`). */
  prettyLogs?: boolean;
  /** Where the SDK exports its worker metrics when TEMPORAL_METRICS_PORT is unset. */
  temporalMetricsPort?: number;
}

export interface Service {
  config: Config;
  logger: Logger;
  database: Database;
  temporal: Client;
  mailer: Mailer;
  /** The Temporal frontend in use: TEMPORAL_ADDRESS, or the dev server's. */
  temporalAddress: string;
  devServer: DevServer | undefined;
  workers: EnrolmentWorkers | undefined;
  app: Express | undefined;
  /** Where this process's Temporal SDK serves its metrics, when it runs workers. */
  temporalMetricsPort: number | undefined;
  /** Serves the API on HOST:PORT. */
  listen(): Promise<Server>;
  /**
   * Resolves when the process is asked to stop (SIGINT or SIGTERM): with workers, once they have
   * stopped polling and let in-flight activities finish (the SDK handles those signals itself).
   */
  untilStopped(): Promise<void>;
  /** Drains HTTP requests, then closes everything opened here, in reverse order. */
  close(): Promise<void>;
}

export async function composeService(config: Config, options: ComposeOptions): Promise<Service> {
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY ?? options.prettyLogs });
  const closers: Array<() => unknown> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    const runsWorkers = options.worker === true;
    const temporalMetricsPort = runsWorkers ? (config.TEMPORAL_METRICS_PORT ?? options.temporalMetricsPort) : undefined;
    // The native runtime (workers, dev server) logs through pino; it must exist before either.
    if (runsWorkers || options.devServer) installTemporalLogging(logger, { metricsPort: temporalMetricsPort });

    const devServer =
      options.devServer && !config.TEMPORAL_ADDRESS
        ? await startDevServer({
            dbFile: path.join(path.resolve(config.DATA_DIR), 'temporal.db'),
            port: config.TEMPORAL_DEV_PORT,
            uiPort: config.TEMPORAL_UI_PORT,
            cliPath: config.TEMPORAL_CLI_PATH,
          })
        : undefined;
    if (devServer) closers.push(() => devServer.stop());
    const temporalAddress = config.TEMPORAL_ADDRESS ?? devServer?.address ?? 'localhost:7233';

    const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, onQuery: countDatabaseStatement });
    closers.push(() => database.close());
    await database.migrate();

    const temporal = await connectClient(temporalAddress, config.TEMPORAL_NAMESPACE);
    closers.push(() => temporal.connection.close());
    const mailer = mailerFor(config, logger);

    const workers = runsWorkers
      ? await createEnrolmentWorkers({
          address: temporalAddress,
          namespace: config.TEMPORAL_NAMESPACE,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          deps: { db: database.db, mailer, config, logger, temporal },
          sendRatePerSecond: config.SEND_RATE_PER_SECOND,
        })
      : undefined;
    if (workers) closers.push(() => workers.connection.close());
    let running: Promise<void> | undefined;
    const runWorkers = () => (running ??= workers!.run());
    if (workers)
      closers.push(async () => {
        workers.shutdown();
        await running;
      });

    const app = options.api ? createApp({ config, database, temporal, logger, mailer, temporalMetricsPort }) : undefined;
    if (app) {
      const stopSweeper = runPendingStartSweeper({ db: database.db, temporal, config, logger });
      closers.push(stopSweeper);
    }

    return {
      config,
      logger,
      database,
      temporal,
      mailer,
      temporalAddress,
      devServer,
      workers,
      app,
      temporalMetricsPort,
      async listen() {
        if (!app) throw new Error('composeService: listen() needs { api: true }');
        const server = app.listen(config.PORT, config.HOST);
        try {
          await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
        } catch (error) {
          await closeAll().catch(() => {});
          throw error;
        }
        closers.push(() => drain(server));
        return server;
      },
      async untilStopped() {
        if (workers) return runWorkers();
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', () => resolve());
          process.once('SIGINT', () => resolve());
        });
      },
      close: closeAll,
    };
  } catch (error) {
    // A part that failed to start (database unreachable, port taken) leaves nothing running.
    await closeAll().catch(() => {});
    throw error;
  }
}

/** Stops accepting connections, lets requests in flight finish (10 s at most), then resolves. */
async function drain(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise((resolve) => server.once('close', resolve));
  server.close();
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 10_000).unref();
  await closed;
  clearTimeout(force);
}
