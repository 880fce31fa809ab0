import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams } from '../schemas/common.js';
import { statsSchema } from '../schemas/stats.js';
import { statsOfSequence } from '../services/stats.js';
import { parse } from '../validate.js';

export function statsRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db };
  const router = Router();

  router.get('/sequences/:id/stats', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    answer(res, 200, statsSchema, await statsOfSequence(services, res.locals.account, id));
  });

  return router;
}
