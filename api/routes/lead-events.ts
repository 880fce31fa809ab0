import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams } from '../schemas/common.js';
import { leadEventInputSchema, leadEventSchema } from '../schemas/lead-events.js';
import { recordLeadEvent } from '../services/lead-events.js';
import { parse } from '../validate.js';

/** The portal's own events about a lead: a meeting booked, a deal won or lost, do not contact, or a name of its own. */
export function leadEventRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, temporal: deps.temporal, config: deps.config, logger: deps.logger };
  const router = Router();

  router.post('/leads/:id/events', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const input = parse(leadEventInputSchema, req.body);
    const { event, duplicate, effects } = await recordLeadEvent(services, res.locals.account, id, input);
    // 201 for a new event; 200 with duplicate for a key seen before (the first request's answer).
    answer(res, duplicate ? 200 : 201, leadEventSchema, {
      id: event.id,
      leadId: event.leadId,
      name: event.name,
      eventKey: event.eventKey,
      createdAt: event.createdAt.toISOString(),
      ...(duplicate ? { duplicate: true as const } : {}),
      effects,
    });
  });

  return router;
}
