import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mailerFor } from './activities/index.js';
import { createApp } from './api/app.js';
import { runPendingStartSweeper } from './api/services/workflow-starter.js';
import { loadConfigOrExit } from './config.js';
import { createAccount } from './db/accounts.js';
import { openDatabase } from './db/client.js';
import { accounts } from './db/schema.js';
import { createLogger } from './logger.js';
import { connectClient } from './temporal/client.js';
import { startDevServer } from './temporal/dev-server.js';
import { installTemporalLogging } from './temporal/runtime.js';
import { createEnrolmentWorkers } from './temporal/worker.js';

/**
 * `npm start`: the whole service in one process for a laptop. API, worker, and (unless
 * TEMPORAL_ADDRESS is set) a Temporal dev server whose state lives in DATA_DIR, like the
 * embedded database when DATABASE_URL is unset. Ctrl-C stops all of it.
 */
const startedAt = Date.now();
const config = loadConfigOrExit();
const dataDirForSecrets = path.resolve(config.DATA_DIR);
mkdirSync(dataDirForSecrets, { recursive: true });
if (!process.env.UNSUBSCRIBE_SECRET) {
  // A laptop needs no secret configured: one is made on first start and kept with the data.
  const secretFile = path.join(dataDirForSecrets, 'unsubscribe-secret');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('base64url'), { mode: 0o600 });
  config.UNSUBSCRIBE_SECRET = readFileSync(secretFile, 'utf8').trim();
}
const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY ?? true });
const temporalMetricsPort = config.TEMPORAL_METRICS_PORT ?? 9465;
installTemporalLogging(logger, { metricsPort: temporalMetricsPort });
const dataDir = dataDirForSecrets;

const devServer = config.TEMPORAL_ADDRESS
  ? undefined
  : await startDevServer({
      dbFile: path.join(dataDir, 'temporal.db'),
      port: config.TEMPORAL_DEV_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      cliPath: config.TEMPORAL_CLI_PATH,
    });
const temporalAddress = config.TEMPORAL_ADDRESS ?? devServer!.address;

const database = await openDatabase({ url: config.DATABASE_URL, dataDir });
await database.migrate();

// First start: a development account whose key scripts can read from DATA_DIR/dev-api-key.
const keyFile = path.join(dataDir, 'dev-api-key');
const anyAccount = await database.db.select({ id: accounts.id }).from(accounts).limit(1);
if (anyAccount.length === 0 || !existsSync(keyFile)) {
  const { apiKey } = await createAccount(database.db, { name: 'Development', senderName: 'Dev User' });
  writeFileSync(keyFile, `${apiKey}\n`, { mode: 0o600 });
}
const apiKey = readFileSync(keyFile, 'utf8').trim();

const temporal = await connectClient(temporalAddress, config.TEMPORAL_NAMESPACE);
const workers = await createEnrolmentWorkers({
  address: temporalAddress,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  deps: { db: database.db, mailer: mailerFor(config, logger), config, logger, temporal },
  sendRatePerSecond: config.SEND_RATE_PER_SECOND,
});
const app = createApp({ config, database, temporal, logger, mailer: mailerFor(config, logger), temporalMetricsPort });
const stopSweeper = runPendingStartSweeper({ db: database.db, temporal, config, logger });
const server = app.listen(config.PORT, config.HOST);
await new Promise((resolve) => server.once('listening', resolve));

const line = (label: string, value: string) => `  ${label.padEnd(14)}${value}`;
process.stdout.write(
  [
    '',
    `Email sequences service is up (${((Date.now() - startedAt) / 1000).toFixed(1)} s).`,
    line('API', `${config.PUBLIC_BASE_URL}  (ready: ${config.PUBLIC_BASE_URL}/readyz)`),
    line('API key', `${apiKey}  (also in ${path.relative(process.cwd(), keyFile)})`),
    line('Temporal UI', devServer?.uiUrl ?? `your cluster's UI (${temporalAddress})`),
    line(
      'Metrics',
      config.METRICS_TOKEN
        ? `${config.PUBLIC_BASE_URL}/metrics  (Authorization: Bearer $METRICS_TOKEN)`
        : 'off: set METRICS_TOKEN to serve /metrics',
    ),
    line('API docs', `${config.PUBLIC_BASE_URL}/docs`),
    line('Outbox', config.RESEND_API_KEY ? 'off: emails go through Resend' : `${config.PUBLIC_BASE_URL}/v1/outbox (emails stay local)`),
    line('Database', database.driver === 'pglite' ? `embedded, in ${path.relative(process.cwd(), dataDir)}/pglite` : 'DATABASE_URL'),
    '  Ctrl-C stops everything.',
    '',
  ].join('\n'),
);

// The worker handles SIGINT/SIGTERM itself (it drains in-flight activities); the rest follows.
await workers.run();
logger.info('stopping');
stopSweeper();
server.close();
server.closeAllConnections();
await workers.connection.close();
await temporal.connection.close();
await database.close();
await devServer?.stop();
process.exit(0);
