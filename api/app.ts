import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Mailer } from '../activities/mailer.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { httpDuration, metricsText, registerEnrolmentGauge } from '../metrics.js';
import { requireApiKey } from './auth.js';
import { apiKeyRateLimit } from './rate-limit.js';
import { errorHandler, unknownRoute } from './errors.js';
import { accountRoutes } from './routes/account.js';
import { docsRoutes } from './routes/docs.js';
import { domainRoutes } from './routes/domains.js';
import { emailRoutes } from './routes/emails.js';
import { enrolmentRoutes } from './routes/enrolments.js';
import { healthRoutes } from './routes/health.js';
import { leadRoutes } from './routes/leads.js';
import { notificationRoutes } from './routes/notifications.js';
import { unsubscribeRoutes } from './routes/unsubscribe.js';
import { webhookRoutes } from './routes/webhooks.js';
import { rejectUnstorableText, requireJsonBody } from './validate.js';
import { sequenceRoutes } from './routes/sequences.js';

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

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);
  app.use((req, res, next) => {
    const end = httpDuration.startTimer({ method: req.method });
    res.on('finish', () => end({ route: req.route ? `${req.baseUrl}${req.route.path}` : 'unmatched', status: String(res.statusCode) }));
    next();
  });
  app.use(
    pinoHttp({
      logger: deps.logger,
      // The account of the API key, once auth has run: every request line says whose it was.
      customProps: (_req, res) => {
        const account = (res as unknown as { locals?: { account?: { id: string } } }).locals?.account;
        return account ? { accountId: account.id } : {};
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
    }),
  );
  // Public, each with its own proof: signed webhooks and inbound email read their raw bodies
  // (so they come before the JSON parser), unsubscribe links carry a signed token.
  app.use(webhookRoutes(deps));
  app.use(express.json({ limit: '5mb', strict: true }));
  app.use(healthRoutes(deps), unsubscribeRoutes(deps), docsRoutes(deps));
  registerEnrolmentGauge(deps.database.db);
  app.get('/metrics', async (_req, res) => {
    res.type('text/plain; version=0.0.4').send(await metricsText(deps.temporalMetricsPort));
  });

  // Everything below needs an API key.
  const authed = express.Router();
  authed.use(requireApiKey(deps.database.db), apiKeyRateLimit(deps.config.API_RATE_LIMIT_PER_MINUTE), requireJsonBody, rejectUnstorableText);
  authed.use(
    accountRoutes(deps),
    domainRoutes(deps),
    sequenceRoutes(deps),
    leadRoutes(deps),
    enrolmentRoutes(deps),
    emailRoutes(deps),
    notificationRoutes(deps),
  );
  app.use('/v1', authed);

  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}
