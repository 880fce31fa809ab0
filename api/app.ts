import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { requireApiKey } from './auth.js';
import { errorHandler, unknownRoute } from './errors.js';
import { healthRoutes } from './routes/health.js';

export interface AppDeps {
  config: Config;
  database: Database;
  temporal: Client;
  logger: Logger;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);
  app.use(
    pinoHttp({
      logger: deps.logger,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  );
  app.use(express.json({ limit: '5mb', strict: true }));

  // Public: probes (and later webhooks and unsubscribe pages).
  app.use(healthRoutes(deps));

  // Everything below needs an API key.
  const authed = express.Router();
  authed.use(requireApiKey(deps.database.db));
  authed.get('/v1/account', (_req, res) => {
    const { id, name, timezone, allowParallelEnrolment, plan, limits } = res.locals.account;
    res.json({ id, name, timezone, allowParallelEnrolment, plan, limits });
  });
  app.use(authed);

  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}
