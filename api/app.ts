import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { httpDuration, metricsText, registerEnrolmentGauge } from '../metrics.js';
import { requireApiKey } from './auth.js';
import type { AppDeps } from './deps.js';
import { apiKeyRateLimit, clientIpRateLimit } from './rate-limit.js';
import { ApiError, errorHandler, methodNotAllowed, unknownRoute } from './errors.js';
import { openApiDocument } from './openapi.js';
import { unsubscribePageCsp } from './pages/unsubscribe-page.js';
import { accountRoutes } from './routes/account.js';
import { senderRoutes } from './routes/senders.js';
import { senderConfirmationLinkRoutes, senderConfirmationRequestRoutes } from './routes/sender-confirmation.js';
import { docsRoutes } from './routes/docs.js';
import { domainRoutes } from './routes/domains.js';
import { emailRoutes } from './routes/emails.js';
import { enrolmentRoutes } from './routes/enrolments.js';
import { experimentRoutes } from './routes/experiments.js';
import { healthRoutes } from './routes/health.js';
import { leadRoutes } from './routes/leads.js';
import { leadEventRoutes } from './routes/lead-events.js';
import { notificationRoutes } from './routes/notifications.js';
import { inboundEmailRoutes } from './routes/inbound-emails.js';
import { statsRoutes } from './routes/stats.js';
import { unsubscribeRoutes } from './routes/unsubscribe.js';
import { webhookRoutes } from './routes/webhooks.js';
import { rejectUnstorableText, requireJsonBody } from './validate.js';
import { sequenceRoutes } from './routes/sequences.js';

export type { AppDeps };

/** Express "trust proxy" from TRUST_PROXY: true/false, a hop count, or addresses and subnets. */
function trustProxySetting(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * Request-line URLs without the secrets some carry: the token of an unsubscribe link (whoever
 * holds it can unsubscribe the lead) and query parameters named like credentials.
 */
const SECRET_QUERY_PARAMETERS = new Set(['token', 'secret', 'key', 'api_key', 'apikey', 'access_token', 'signature', 'sig', 'password']);
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  // Express matches routes case-insensitively: /U/<token> is an unsubscribe link too.
  const redactedPath = (q === -1 ? url : url.slice(0, q)).replace(
    /^\/(u|confirm-sender)\/[^/]+/i,
    (_, route: string) => `/${route.toLowerCase()}/[redacted]`,
  );
  if (q === -1) return redactedPath;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) if (SECRET_QUERY_PARAMETERS.has(name.toLowerCase())) params.set(name, '[redacted]');
  return `${redactedPath}?${params.toString().replaceAll('%5Bredacted%5D', '[redacted]')}`;
}

/**
 * GET /metrics on the API port: counts across every account, so not public. With METRICS_TOKEN
 * set it needs `Authorization: Bearer <token>`; without, the API port does not serve it (404) and
 * the worker's METRICS_PORT (or a token) is the way to scrape.
 */
function metricsRoute(deps: AppDeps): RequestHandler {
  const token = deps.config.METRICS_TOKEN;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return async (req, res, next) => {
    if (!token) return next(new ApiError(404, 'route_not_found', `No route for ${req.method} ${req.path}`));
    const given = /^bearer +(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!given || !timingSafeEqual(digest(given), digest(token))) {
      res.set('www-authenticate', 'Bearer realm="metrics"');
      return next(new ApiError(401, 'unauthorized', 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>"'));
    }
    res
      .set('cache-control', 'no-store')
      .type('text/plain; version=0.0.4')
      .send(await metricsText(deps.temporalMetricsPort));
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxySetting(deps.config.TRUST_PROXY));
  // Security headers on every answer. JSON answers get a CSP that allows nothing (and no framing);
  // the HTML pages (/docs, /u/…) set their own below.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
      },
      referrerPolicy: { policy: 'no-referrer' },
      xFrameOptions: { action: 'deny' },
    }),
  );
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
        req: (req: { method: string; url: string }) => ({ method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
    }),
  );
  // Public, each with its own proof: signed webhooks and inbound email read their raw bodies,
  // unsubscribe links carry a signed token. Each is limited per client IP before anything is read.
  app.use(
    ['/webhooks', '/inbound'],
    clientIpRateLimit(deps.config.WEBHOOK_RATE_LIMIT_PER_MINUTE, {
      name: 'webhooks',
      what: 'webhooks and inbound email',
      countRefusedOnly: true,
    }),
  );
  app.use(
    ['/u', '/confirm-sender'],
    clientIpRateLimit(deps.config.UNSUBSCRIBE_RATE_LIMIT_PER_MINUTE, { name: 'unsubscribe', what: 'unsubscribe and confirmation links' }),
  );
  app.use(['/u', '/confirm-sender'], helmet.contentSecurityPolicy({ useDefaults: false, directives: unsubscribePageCsp }));
  // A method a documented path does not have: 405 with Allow (OPTIONS: the Allow list), before
  // any route, so a literal path (…/steps/order) is never taken for a parameter (…/{stepId}).
  app.use(methodNotAllowed(openApiDocument().paths ?? {}));
  app.use(webhookRoutes(deps));
  app.use(healthRoutes(deps), unsubscribeRoutes(deps), senderConfirmationLinkRoutes(deps), docsRoutes(deps));
  registerEnrolmentGauge(deps.database.db);
  app.get('/metrics', metricsRoute(deps));

  // Everything below needs an API key, checked before the body is read: a caller without one
  // gets its 401 without making the process parse up to 5 MB of JSON.
  const authed = express.Router();
  authed.use(
    requireApiKey(deps.database.db),
    apiKeyRateLimit(deps.config.API_RATE_LIMIT_PER_MINUTE),
    express.json({ limit: '5mb', strict: true }),
    requireJsonBody,
    rejectUnstorableText,
  );
  authed.use(
    accountRoutes(deps),
    senderConfirmationRequestRoutes(deps),
    senderRoutes(deps),
    domainRoutes(deps),
    sequenceRoutes(deps),
    leadRoutes(deps),
    leadEventRoutes(deps),
    enrolmentRoutes(deps),
    emailRoutes(deps),
    notificationRoutes(deps),
    inboundEmailRoutes(deps),
    statsRoutes(deps),
    experimentRoutes(deps),
  );
  app.use('/v1', authed);

  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}
