import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { ApiError } from './errors.js';

/**
 * Requests per API key per minute (fixed one-minute windows, counted in this process's memory:
 * with N API processes behind a load balancer a key gets up to N × the limit). Keyed by the API
 * key's id, not the client's IP: one portal's busy key must not throttle another account, and
 * many users behind one NAT must not share a budget. 0 turns it off.
 */
export function apiKeyRateLimit(perMinute: number): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    // RateLimit and RateLimit-Policy (IETF draft 8) on every answer; Retry-After on a 429.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Runs after requireApiKey, so the key is known.
    keyGenerator: (_req, res) => res.locals.apiKeyId,
    handler: (_req, res, next) => {
      next(
        new ApiError(
          429,
          'rate_limited',
          `Too many requests for this API key: at most ${perMinute} per minute; retry after ${res.get('retry-after') ?? 'a while'} seconds`,
        ),
      );
    },
    // The IP-related checks do not apply to a key that is not an IP.
    validate: { trustProxy: false, xForwardedForHeader: false, ip: false, keyGeneratorIpFallback: false },
  });
}

/**
 * Requests per client IP per minute on the endpoints that need no API key (provider webhooks,
 * inbound email, unsubscribe links). They prove themselves by a signature, secret or token, but
 * checking that costs a body read and a database lookup: the limit keeps one client from making
 * the process do that without end. The client IP is Express's `req.ip` (TRUST_PROXY decides which
 * X-Forwarded-For hops are believed); IPv6 clients count per /56, as express-rate-limit does.
 * 0 turns it off.
 */
export function clientIpRateLimit(
  perMinute: number,
  policy: {
    name: string;
    what: string;
    /**
     * Count only refused requests (4xx/5xx): a provider delivers every tenant's webhooks from a few
     * addresses, so its genuine, verified deliveries must not use up the budget of its address.
     */
    countRefusedOnly?: boolean;
  },
): RequestHandler {
  if (perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: policy.name,
    skipSuccessfulRequests: policy.countRefusedOnly ?? false,
    handler: (_req, res, next) => {
      next(
        new ApiError(
          429,
          'rate_limited',
          `Too many requests to ${policy.what} from this address: at most ${perMinute} per minute; retry after ${res.get('retry-after') ?? 'a while'} seconds`,
        ),
      );
    },
    // Whether X-Forwarded-For is believed is TRUST_PROXY's decision, not a misconfiguration to warn of.
    validate: { xForwardedForHeader: false },
  });
}
