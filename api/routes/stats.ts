import { Router } from 'express';
import type { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { idParams } from '../schemas/common.js';
import type { statsSchema } from '../schemas/responses.js';
import { statsOfSequence } from '../services/stats.js';
import { parse } from '../validate.js';

export function statsRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db };
  const router = Router();

  router.get('/sequences/:id/stats', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    res.json((await statsOfSequence(services, res.locals.account, id)) satisfies z.input<typeof statsSchema>);
  });

  return router;
}
