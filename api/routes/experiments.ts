import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams, stepParams } from '../schemas/common.js';
import { experimentSchema, holdoutSchema } from '../schemas/experiments.js';
import { holdoutComparison, stepExperiment } from '../services/experiments.js';
import { parse } from '../validate.js';

/** How an experiment stands: a step's variants judged on replies, and the holdout against the follow-ups. */
export function experimentRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db };
  const router = Router();

  router.get('/sequences/:id/steps/:stepId/experiment', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    answer(res, 200, experimentSchema, await stepExperiment(services, res.locals.account, id, stepId));
  });

  router.get('/sequences/:id/holdout', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    answer(res, 200, holdoutSchema, await holdoutComparison(services, res.locals.account, id));
  });

  return router;
}
