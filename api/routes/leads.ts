import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { signalEnrolment } from '../../temporal/client.js';
import { toLeadDto } from '../dto.js';
import { idParams } from '../schemas/common.js';
import {
  importAnswerSchema,
  leadImportSchema,
  leadInputSchema,
  leadListQuery,
  leadPageSchema,
  leadPatchSchema,
  leadSchema,
} from '../schemas/leads.js';
import { createLead, findLead, importLeads, listLeads, updateLead } from '../services/leads.js';
import { parse } from '../validate.js';

export function leadRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db };
  const router = Router();

  router.post('/leads', async (req, res) => {
    const input = parse(leadInputSchema, req.body);
    answer(res, 201, leadSchema, toLeadDto(await createLead(services, res.locals.account, input)));
  });

  // Import: creates new leads and updates existing ones (matched by email); each row answers alone.
  router.post('/leads/import', async (req, res) => {
    const { leads: rows } = parse(leadImportSchema, req.body);
    answer(res, 200, importAnswerSchema, await importLeads(services, res.locals.account, rows));
  });

  router.get('/leads', async (req, res) => {
    const query = parse(leadListQuery, req.query, 'query');
    const { page, nextCursor } = await listLeads(services, res.locals.account, query);
    answer(res, 200, leadPageSchema, { data: page.map(toLeadDto), nextCursor });
  });

  router.get('/leads/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    answer(res, 200, leadSchema, toLeadDto(await findLead(services, res.locals.account, id)));
  });

  router.patch('/leads/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const patch = parse(leadPatchSchema, req.body);
    const { lead, replan } = await updateLead(services, res.locals.account, id, patch);
    // Few per lead: signalled here rather than by a broadcast. One not started yet plans with the new values.
    await Promise.all(replan.map((enrolmentId) => signalEnrolment(deps, enrolmentId, 'reschedule')));
    answer(res, 200, leadSchema, toLeadDto(lead));
  });

  return router;
}
