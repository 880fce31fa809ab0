import { Router } from 'express';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { sequences, steps } from '../../db/schema.js';
import type { AppDeps } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { keyset, pageOf } from '../pagination.js';
import { idParams, pageQuery, uuidParam } from '../schemas/common.js';
import { sequenceCreateSchema, sequencePatchSchema, stepInputSchema, stepOrderSchema, stepPatchSchema } from '../schemas/sequences.js';
import { statusCounts } from '../services/enrolments.js';
import {
  addStep,
  assertEditable,
  checkStepTemplates,
  createSequence,
  findSequence,
  liveSteps,
  toSequenceDto,
  toStepDto,
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
    const { limit, cursor } = parse(pageQuery, req.query, 'query');
    const { where, orderBy } = keyset(cursor, sequences.createdAt, sequences.id, 'desc');
    const rows = await db
      .select()
      .from(sequences)
      .where(and(eq(sequences.accountId, res.locals.account.id), where))
      .orderBy(...orderBy)
      .limit(limit + 1);
    const { page, nextCursor } = pageOf(rows, limit, (s) => ({ at: s.createdAt, id: s.id }));
    const stepRows = page.length
      ? await db
          .select()
          .from(steps)
          .where(
            and(
              inArray(
                steps.sequenceId,
                page.map((s) => s.id),
              ),
              isNull(steps.deletedAt),
            ),
          )
      : [];
    res.json({
      data: page.map((s) =>
        toSequenceDto(
          s,
          stepRows.filter((st) => st.sequenceId === s.id).sort((a, b) => a.position - b.position),
        ),
      ),
      nextCursor,
    });
  });

  router.get('/sequences/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const sequence = await findSequence(db, res.locals.account, id);
    res.json({ ...toSequenceDto(sequence, await liveSteps(db, id)), enrolmentCounts: await statusCounts(db, id) });
  });

  router.patch('/sequences/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const patch = parse(sequencePatchSchema, req.body);
    const sequence = await findSequence(db, res.locals.account, id);
    assertEditable(sequence);
    const [updated] = await db
      .update(sequences)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(sequences.id, id))
      .returning();
    if (patch.sendWindow !== undefined) await reschedule(id);
    res.json(toSequenceDto(updated!, await liveSteps(db, id)));
  });

  // Sequence-wide actions: the sequence's status is the durable truth; the broadcast makes
  // every live enrolment follow at once.
  const sequenceAction = (action: 'pause' | 'resume' | 'archive') =>
    router.post(`/sequences/:id/${action}`, async (req, res) => {
      const { id } = parse(idParams, req.params, 'params');
      const sequence = await findSequence(db, res.locals.account, id);
      assertEditable(sequence);
      const status = action === 'pause' ? 'paused' : action === 'resume' ? 'active' : 'archived';
      const [updated] = await db
        .update(sequences)
        .set({ status, updatedAt: new Date(), ...(action === 'archive' ? { archivedAt: new Date() } : {}) })
        .where(eq(sequences.id, id))
        .returning();
      const broadcastId = await broadcastToSequence(deps, {
        sequenceId: id,
        signal: action === 'archive' ? 'stop' : action,
        reason: action === 'archive' ? 'the sequence was archived' : undefined,
      });
      res.status(202).json({ ...toSequenceDto(updated!, await liveSteps(db, id)), broadcastId });
    });
  sequenceAction('pause');
  sequenceAction('resume');
  sequenceAction('archive');

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
    const sequence = await findSequence(db, res.locals.account, id);
    assertEditable(sequence);
    await checkStepTemplates(res.locals.account.id, [patch]);
    const [step] = await db
      .update(steps)
      .set({
        ...(patch.subject !== undefined ? { subject: patch.subject } : {}),
        ...(patch.body !== undefined ? { body: patch.body } : {}),
        ...(patch.delay ? { delayAmount: patch.delay.amount, delayUnit: patch.delay.unit } : {}),
        updatedAt: new Date(),
      })
      .where(and(eq(steps.id, stepId), eq(steps.sequenceId, id), isNull(steps.deletedAt)))
      .returning();
    if (!step) throw notFound('Step');
    await reschedule(id);
    res.json(toStepDto(step));
  });

  router.delete('/sequences/:id/steps/:stepId', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const sequence = await findSequence(db, res.locals.account, id);
    assertEditable(sequence);
    // Kept, not erased: sent messages point at it, and its position marks the place.
    const [step] = await db
      .update(steps)
      .set({ deletedAt: new Date() })
      .where(and(eq(steps.id, stepId), eq(steps.sequenceId, id), isNull(steps.deletedAt)))
      .returning();
    if (!step) throw notFound('Step');
    await reschedule(id);
    res.status(204).end();
  });

  router.put('/sequences/:id/steps/order', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { stepIds } = parse(stepOrderSchema, req.body);
    const sequence = await findSequence(db, res.locals.account, id);
    assertEditable(sequence);
    const current = await liveSteps(db, id);
    const same =
      current.length === stepIds.length && new Set(stepIds).size === stepIds.length && current.every((s) => stepIds.includes(s.id));
    if (!same) throw new ApiError(422, 'step_order_mismatch', 'stepIds must list every step of the sequence exactly once', 'stepIds');
    await db.transaction(async (tx) => {
      for (const [index, stepId] of stepIds.entries()) {
        await tx
          .update(steps)
          .set({ position: index + 1, updatedAt: new Date() })
          .where(eq(steps.id, stepId));
      }
    });
    await reschedule(id);
    res.json(toSequenceDto(sequence, await liveSteps(db, id)));
  });

  return router;
}
