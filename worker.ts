import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { metricsText } from './metrics.js';
import { mailerFor } from './activities/index.js';
import { loadConfigOrExit } from './config.js';
import { openDatabase } from './db/client.js';
import { createLogger } from './logger.js';
import { connectClient } from './temporal/client.js';
import { installTemporalLogging } from './temporal/runtime.js';
import { createEnrolmentWorkers } from './temporal/worker.js';

/** Production worker process: runs enrolment workflows and activities. SIGTERM drains it. */
const config = loadConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
const temporalMetricsPort = config.TEMPORAL_METRICS_PORT;
installTemporalLogging(logger, { metricsPort: temporalMetricsPort });
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
await database.migrate();
const temporal = await connectClient(config.TEMPORAL_ADDRESS ?? 'localhost:7233', config.TEMPORAL_NAMESPACE);
const workers = await createEnrolmentWorkers({
  address: config.TEMPORAL_ADDRESS ?? 'localhost:7233',
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  deps: { db: database.db, mailer: mailerFor(config, logger), config, logger, temporal },
  sendRatePerSecond: config.SEND_RATE_PER_SECOND,
});
// /metrics of the worker process: ours (emails sent and failed) and the SDK's.
const metricsServer = createServer(async (req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(await metricsText(temporalMetricsPort));
});
if (config.METRICS_PORT) metricsServer.listen(config.METRICS_PORT, config.HOST);
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, metricsPort: config.METRICS_PORT }, 'worker running');
// For container health checks: a file whose age says whether the worker is still running.
const heartbeatFile = process.env.WORKER_HEARTBEAT_FILE;
const heartbeat = heartbeatFile
  ? setInterval(() => {
      if (workers.workers.every((w) => w.getState() === 'RUNNING')) writeFileSync(heartbeatFile, new Date().toISOString());
    }, 10_000)
  : undefined;
// The SDK shuts the worker down on SIGINT/SIGTERM, letting in-flight activities finish.
await workers.run();
clearInterval(heartbeat);
if (metricsServer.listening) metricsServer.close();
await workers.connection.close();
await temporal.connection.close();
await database.close();
logger.info('worker stopped');
