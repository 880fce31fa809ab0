import { Router } from 'express';
import { forecastQuery, forecastSchema } from '../schemas/forecast.js';
import { stepImpactAnswerSchema, stepImpactSchema } from '../schemas/edit-impact.js';
import { stepEditImpact } from '../services/edit-impact.js';
import { FORECAST_ASSUMPTIONS, sequenceForecast } from '../services/forecast.js';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams, pageQuery, stepParams } from '../schemas/common.js';
import {
  sequenceBroadcastSchema,
  sequenceCreateSchema,
  sequenceDetailSchema,
  sequencePageSchema,
  sequencePatchSchema,
  sequenceSchema,
  stepInputSchema,
  stepOrderSchema,
  stepPatchSchema,
  stepSchema,
  stepVariantChangeSchema,
  variantInputSchema,
  variantParams,
  variantPatchSchema,
} from '../schemas/sequences.js';
import { statusCounts } from '../services/enrolments.js';
import {
  addStep,
  createSequence,
  deleteStep,
  findSequence,
  listSequences,
  liveStepsWithVariants,
  reorderSteps,
  sequenceActionEffect,
  setSequenceStatus,
  toSequenceDto,
  toStepDto,
  updateSequence,
  updateStep,
} from '../services/sequences.js';
import { addVariant, declareWinner, removeVariant, updateVariant } from '../services/step-variants.js';
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
    answer(res, 201, sequenceSchema, toSequenceDto(sequence, created));
  });

  router.get('/sequences', async (req, res) => {
    const query = parse(pageQuery, req.query, 'query');
    const { page, nextCursor } = await listSequences(db, res.locals.account, query);
    answer(res, 200, sequencePageSchema, { data: page.map((s) => toSequenceDto(s.sequence, s.steps)), nextCursor });
  });

  router.get('/sequences/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const sequence = await findSequence(db, res.locals.account, id);
    answer(res, 200, sequenceDetailSchema, {
      ...toSequenceDto(sequence, await liveStepsWithVariants(db, id)),
      enrolmentCounts: await statusCounts(db, id),
    });
  });

  router.patch('/sequences/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const patch = parse(sequencePatchSchema, req.body);
    const { sequence, replan } = await updateSequence(db, await findSequence(db, res.locals.account, id), patch);
    if (replan) await reschedule(id);
    answer(res, 200, sequenceSchema, toSequenceDto(sequence, await liveStepsWithVariants(db, id)));
  });

  // Sequence-wide actions: the sequence's status is the durable truth; the broadcast makes
  // every live enrolment follow at once.
  for (const action of ['pause', 'resume', 'archive'] as const) {
    router.post(`/sequences/:id/${action}`, async (req, res) => {
      const { id } = parse(idParams, req.params, 'params');
      const updated = await setSequenceStatus(db, await findSequence(db, res.locals.account, id), action);
      const { signal, reason } = sequenceActionEffect(action);
      const broadcastId = await broadcastToSequence(deps, { sequenceId: id, signal, reason });
      answer(res, 202, sequenceBroadcastSchema, { ...toSequenceDto(updated, await liveStepsWithVariants(db, id)), broadcastId });
    });
  }

  // What the sequence will send in the coming days, and what holds emails back.
  router.get('/sequences/:id/forecast', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { days } = parse(forecastQuery, req.query, 'query');
    const account = res.locals.account;
    const sequence = await findSequence(db, account, id);
    const generatedAt = new Date();
    const { steps, forecast, enrolments } = await sequenceForecast(db, account, sequence, days, generatedAt);
    const counts = (byStep: Record<string, number>) => steps.map((s, i) => ({ stepId: s.id, number: i + 1, emails: byStep[s.id] ?? 0 }));
    const totals = Object.fromEntries(steps.map((s) => [s.id, forecast.days.reduce((n, d) => n + (d.byStep[s.id] ?? 0), 0)]));
    answer(res, 200, forecastSchema, {
      sequenceId: id,
      zone: account.timezone,
      generatedAt: generatedAt.toISOString(),
      liveEnrolments: enrolments,
      days: forecast.days.map((d) => ({ date: d.date, emails: d.total, steps: counts(d.byStep) })),
      totals: { emails: forecast.days.reduce((n, d) => n + d.total, 0), steps: counts(totals) },
      heldBack: forecast.heldBack,
      assumptions: FORECAST_ASSUMPTIONS,
    });
  });

  // A dry run of an edit: what it would do to the enrolments, before the user saves it.
  router.post('/sequences/:id/steps/:stepId/impact', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const edit = parse(stepImpactSchema, req.body ?? {});
    const sequence = await findSequence(db, res.locals.account, id);
    answer(res, 200, stepImpactAnswerSchema, await stepEditImpact(db, res.locals.account, sequence, stepId, edit));
  });

  router.post('/sequences/:id/steps', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const input = parse(stepInputSchema, req.body);
    const sequence = await findSequence(db, res.locals.account, id);
    const step = await addStep(db, res.locals.account, sequence, input);
    await reschedule(id);
    answer(res, 201, stepSchema, toStepDto(step));
  });

  router.patch('/sequences/:id/steps/:stepId', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const patch = parse(stepPatchSchema, req.body);
    const step = await updateStep(db, res.locals.account, await findSequence(db, res.locals.account, id), stepId, patch);
    await reschedule(id);
    answer(res, 200, stepSchema, toStepDto(step));
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
    answer(res, 200, sequenceSchema, toSequenceDto(sequence, ordered));
  });

  // An experiment's variants. Each change re-plans the waiting enrolments, so their next step
  // (and its Temporal summary) names the variant they now get.
  router.post('/sequences/:id/steps/:stepId/variants', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const input = parse(variantInputSchema, req.body);
    const step = await addVariant(db, res.locals.account, await findSequence(db, res.locals.account, id), stepId, input);
    await reschedule(id);
    answer(res, 201, stepSchema, toStepDto(step));
  });

  router.patch('/sequences/:id/steps/:stepId/variants/:variantId', async (req, res) => {
    const { id, stepId, variantId } = parse(variantParams, req.params, 'params');
    const patch = parse(variantPatchSchema, req.body);
    const step = await updateVariant(db, res.locals.account, await findSequence(db, res.locals.account, id), stepId, variantId, patch);
    await reschedule(id);
    answer(res, 200, stepSchema, toStepDto(step));
  });

  router.delete('/sequences/:id/steps/:stepId/variants/:variantId', async (req, res) => {
    const { id, stepId, variantId } = parse(variantParams, req.params, 'params');
    const { step, moved } = await removeVariant(db, res.locals.account, await findSequence(db, res.locals.account, id), stepId, variantId);
    await reschedule(id);
    answer(res, 200, stepVariantChangeSchema, { ...toStepDto(step), moved });
  });

  router.post('/sequences/:id/steps/:stepId/variants/:variantId/winner', async (req, res) => {
    const { id, stepId, variantId } = parse(variantParams, req.params, 'params');
    const { step, moved } = await declareWinner(db, res.locals.account, await findSequence(db, res.locals.account, id), stepId, variantId);
    await reschedule(id);
    answer(res, 200, stepVariantChangeSchema, { ...toStepDto(step), moved });
  });

  return router;
}
