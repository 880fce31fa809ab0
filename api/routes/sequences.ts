import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import { idParams, pageQuery, uuidParam } from '../schemas/common.js';
import { sequenceCreateSchema, sequencePatchSchema, stepInputSchema, stepOrderSchema, stepPatchSchema } from '../schemas/sequences.js';
import { statusCounts } from '../services/enrolments.js';
import {
  addStep,
  createSequence,
  deleteStep,
  findSequence,
  listSequences,
  liveSteps,
  reorderSteps,
  sequenceActionEffect,
  setSequenceStatus,
  toSequenceDto,
  toStepDto,
  updateSequence,
  updateStep,
} from '../services/sequences.js';
import { broadcastToSequence } from '../services/workflow-starter.js';
import { parse } from '../validate.js';

export function sequenceRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  // Enrolments waiting on a step re-plan when its content, delay or order changes.
  const reschedule = (sequenceId: string) => broadcastToSequence(deps, { sequenceId, signal: 'reschedule' });

  router.post('/sequences', async (req, res) => {
    const input = parse(sequenceCreateSchema, req.body);
    const { sequence, steps: created } = await createSequence(db, res.locals.account, input);
    res.status(201).json(toSequenceDto(sequence, created));
  });

  router.get('/sequences', async (req, res) => {
    const query = parse(pageQuery, req.query, 'query');
    const { page, nextCursor } = await listSequences(db, res.locals.account, query);
    res.json({ data: page.map((s) => toSequenceDto(s.sequence, s.steps)), nextCursor });
  });

  router.get('/sequences/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const sequence = await findSequence(db, res.locals.account, id);
    res.json({ ...toSequenceDto(sequence, await liveSteps(db, id)), enrolmentCounts: await statusCounts(db, id) });
  });

  router.patch('/sequences/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const patch = parse(sequencePatchSchema, req.body);
    const { sequence, replan } = await updateSequence(db, await findSequence(db, res.locals.account, id), patch);
    if (replan) await reschedule(id);
    res.json(toSequenceDto(sequence, await liveSteps(db, id)));
  });

  // Sequence-wide actions: the sequence's status is the durable truth; the broadcast makes
  // every live enrolment follow at once.
  for (const action of ['pause', 'resume', 'archive'] as const) {
    router.post(`/sequences/:id/${action}`, async (req, res) => {
      const { id } = parse(idParams, req.params, 'params');
      const updated = await setSequenceStatus(db, await findSequence(db, res.locals.account, id), action);
      const { signal, reason } = sequenceActionEffect(action);
      const broadcastId = await broadcastToSequence(deps, { sequenceId: id, signal, reason });
      res.status(202).json({ ...toSequenceDto(updated, await liveSteps(db, id)), broadcastId });
    });
  }

  router.post('/sequences/:id/steps', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const input = parse(stepInputSchema, req.body);
    const sequence = await findSequence(db, res.locals.account, id);
    const step = await addStep(db, res.locals.account, sequence, input);
    await reschedule(id);
    res.status(201).json(toStepDto(step));
  });

  const stepParams = idParams.extend({ stepId: uuidParam });
  router.patch('/sequences/:id/steps/:stepId', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const patch = parse(stepPatchSchema, req.body);
    const step = await updateStep(db, res.locals.account, await findSequence(db, res.locals.account, id), stepId, patch);
    await reschedule(id);
    res.json(toStepDto(step));
  });

  router.delete('/sequences/:id/steps/:stepId', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    await deleteStep(db, await findSequence(db, res.locals.account, id), stepId);
    await reschedule(id);
    res.status(204).end();
  });

  router.put('/sequences/:id/steps/order', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { stepIds } = parse(stepOrderSchema, req.body);
    const sequence = await findSequence(db, res.locals.account, id);
    const ordered = await reorderSteps(db, sequence, stepIds);
    await reschedule(id);
    res.json(toSequenceDto(sequence, ordered));
  });

  return router;
}
