import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { addSendingDomain, getSendingDomain, verifySendingDomain } from '../services/domains.js';
import { parse } from '../validate.js';

export const domainSchema = z.object({
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .max(253)
    .regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/, 'must be a domain name such as mail.acme.com'),
});

/**
 * Custom sending domains, through Resend's domains API: add one, show the DNS records to set,
 * check verification. Until it is verified, emails go from the platform address.
 */
export function domainRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, config: deps.config };
  const router = Router();

  router.post('/account/domain', async (req, res) => {
    const { domain } = parse(domainSchema, req.body);
    res.status(201).json(await addSendingDomain(services, res.locals.account, domain));
  });

  router.get('/account/domain', async (_req, res) => {
    res.json(await getSendingDomain(services, res.locals.account));
  });

  router.post('/account/domain/verify', async (_req, res) => {
    res.json(await verifySendingDomain(services, res.locals.account));
  });

  return router;
}
