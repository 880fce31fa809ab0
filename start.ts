import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { composeService } from './composition.js';
import { loadConfigOrExit } from './config.js';
import { createAccount } from './db/accounts.js';
import { accounts } from './db/schema.js';

/**
 * `npm start`: the whole service in one process for a laptop. API, worker, and (unless
 * TEMPORAL_ADDRESS is set) a Temporal dev server whose state lives in DATA_DIR, like the
 * embedded database when DATABASE_URL is unset. Ctrl-C stops all of it.
 */
const startedAt = Date.now();
// A laptop needs no UNSUBSCRIBE_SECRET configured: one is made on first start and kept in DATA_DIR.
const config = loadConfigOrExit(undefined, { persistDevelopmentSecret: true });
const service = await composeService(config, {
  api: true,
  worker: true,
  devServer: true,
  prettyLogs: true,
  // The API's /metrics appends the SDK's worker metrics from here.
  temporalMetricsPort: 9465,
});
const { database, devServer, temporalAddress } = service;
const dataDir = path.resolve(config.DATA_DIR);
mkdirSync(dataDir, { recursive: true });

// First start: a development account whose key scripts can read from DATA_DIR/dev-api-key.
const keyFile = path.join(dataDir, 'dev-api-key');
const anyAccount = await database.db.select({ id: accounts.id }).from(accounts).limit(1);
if (anyAccount.length === 0 || !existsSync(keyFile)) {
  const { apiKey } = await createAccount(database.db, {
    name: 'Development',
    postalAddress: '1 Example Street, Exampletown (set yours: PATCH /v1/account)',
    sender: { name: 'Dev User' },
  });
  writeFileSync(keyFile, `${apiKey}\n`, { mode: 0o600 });
}
const apiKey = readFileSync(keyFile, 'utf8').trim();

await service.listen();

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

// The workers handle SIGINT/SIGTERM themselves (they drain in-flight activities); the rest follows.
await service.untilStopped();
service.logger.info('stopping');
await service.close();
process.exit(0);
