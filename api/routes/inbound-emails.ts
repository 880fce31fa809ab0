import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams } from '../schemas/common.js';
import {
  classificationCorrectedSchema,
  classificationCorrectionSchema,
  inboundEmailSchema,
  sentimentInputSchema,
} from '../schemas/inbound.js';
import { correctInboundClassification, findInboundEmail, setReplySentiment, toInboundEmailDto } from '../services/inbound-emails.js';
import { parse } from '../validate.js';

/** The emails that came back to reply addresses: how each was read, the user's correction of it, and their judgement of a reply. */
export function inboundEmailRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, temporal: deps.temporal, config: deps.config, logger: deps.logger };
  const router = Router();

  router.get('/inbound-emails/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    answer(res, 200, inboundEmailSchema, toInboundEmailDto(await findInboundEmail(services, res.locals.account, id)));
  });

  router.post('/inbound-emails/:id/classification', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const correction = parse(classificationCorrectionSchema, req.body);
    const { inbound, effect } = await correctInboundClassification(services, res.locals.account, id, correction);
    answer(res, 200, classificationCorrectedSchema, { ...toInboundEmailDto(inbound), effect });
  });

  router.post('/inbound-emails/:id/sentiment', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { sentiment } = parse(sentimentInputSchema, req.body);
    answer(res, 200, inboundEmailSchema, toInboundEmailDto(await setReplySentiment(services, res.locals.account, id, sentiment)));
  });

  return router;
}
