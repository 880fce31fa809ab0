import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { composeService } from './composition.js';
import { loadConfigOrExit } from './config.js';
import { metricsText } from './metrics.js';

/** Production worker process: runs enrolment workflows and activities. SIGTERM drains it. */
const config = loadConfigOrExit();
const service = await composeService(config, { worker: true });
const { logger, workers, temporalMetricsPort } = service;

// /metrics of the worker process: ours (emails sent and failed) and the SDK's.
const metricsServer = createServer(async (req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(await metricsText(temporalMetricsPort));
});
if (config.METRICS_PORT) metricsServer.listen(config.METRICS_PORT, config.HOST);
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, metricsPort: config.METRICS_PORT }, 'worker running');

// For container health checks: a file whose age says whether the worker is still running.
const heartbeatFile = config.WORKER_HEARTBEAT_FILE;
const heartbeat = heartbeatFile
  ? setInterval(() => {
      if (workers!.workers.every((w) => w.getState() === 'RUNNING')) writeFileSync(heartbeatFile, new Date().toISOString());
    }, 10_000)
  : undefined;

// The SDK shuts the workers down on SIGINT/SIGTERM, letting in-flight activities finish.
await service.untilStopped();
clearInterval(heartbeat);
if (metricsServer.listening) metricsServer.close();
await service.close();
logger.info('worker stopped');
