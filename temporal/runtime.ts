import type { LogLevel, LogMetadata } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { Logger } from '../logger.js';

/**
 * The Temporal SDK's own logs (worker, workflows, activities) go through our pino logger, so
 * one stream holds everything. The webpack bundler's chatter is demoted to debug.
 */
let installed = false;

export function installTemporalLogging(logger: Logger, options: { metricsPort?: number } = {}): void {
  if (installed) return;
  installed = true;
  const sdk = logger.child({ component: 'temporal' });
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const pinoLevel =
      level === 'WARN' ? 'warn' : level === 'ERROR' ? 'error' : level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : 'info';
    const noisy = meta?.sdkComponent === 'worker' && /webpack|Workflow bundle/.test(message);
    sdk[noisy ? 'debug' : pinoLevel](meta ?? {}, message);
  };
  Runtime.install({
    telemetryOptions: {
      // The native core's warnings (slow workflow tasks, connection trouble) would otherwise go
      // straight to the console as coloured text, outside our JSON logs and their redaction.
      logging: { forward: {} },
      // The SDK's worker metrics (task latencies, slots, polls) on a local Prometheus endpoint.
      ...(options.metricsPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${options.metricsPort}` } } } : {}),
    },
    logger: {
      log,
      trace: (m, meta) => log('TRACE', m, meta),
      debug: (m, meta) => log('DEBUG', m, meta),
      info: (m, meta) => log('INFO', m, meta),
      warn: (m, meta) => log('WARN', m, meta),
      error: (m, meta) => log('ERROR', m, meta),
    },
  });
}
