import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { domainSchema, domainStatusSchema } from '../schemas/domains.js';
import { addSendingDomain, getSendingDomain, verifySendingDomain } from '../services/domains.js';
import { parse } from '../validate.js';

/**
 * Custom sending domains, through Resend's domains API: add one, show the DNS records to set,
 * check verification. Until it is verified, emails go from the platform address.
 */
export function domainRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, config: deps.config };
  const router = Router();

  router.post('/account/domain', async (req, res) => {
    const { domain } = parse(domainSchema, req.body);
    answer(res, 201, domainStatusSchema, await addSendingDomain(services, res.locals.account, domain));
  });

  router.get('/account/domain', async (_req, res) => {
    answer(res, 200, domainStatusSchema, await getSendingDomain(services, res.locals.account));
  });

  router.post('/account/domain/verify', async (_req, res) => {
    answer(res, 200, domainStatusSchema, await verifySendingDomain(services, res.locals.account));
  });

  return router;
}
