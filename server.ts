import { mailerFor } from './activities/index.js';
import { createApp } from './api/app.js';
import { loadConfigOrExit } from './config.js';
import { openDatabase } from './db/client.js';
import { createLogger } from './logger.js';
import { runPendingStartSweeper } from './api/services/workflow-starter.js';
import { connectClient } from './temporal/client.js';

/** Production API process: `node --import tsx server.ts` (docker-compose service `api`). */
const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
await database.migrate();
const temporal = await connectClient(config.TEMPORAL_ADDRESS ?? 'localhost:7233', config.TEMPORAL_NAMESPACE);
const app = createApp({ config, database, temporal, logger, mailer: mailerFor(config, logger) });
const stopSweeper = runPendingStartSweeper({ db: database.db, temporal, config, logger });
const server = app.listen(config.PORT, config.HOST, () => logger.info({ port: config.PORT }, 'API listening'));

async function shutdown(signal: string) {
  logger.info({ signal }, 'shutting down: draining requests');
  stopSweeper();
  server.close();
  server.closeIdleConnections();
  await new Promise((resolve) => server.once('close', resolve));
  await temporal.connection.close();
  await database.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
