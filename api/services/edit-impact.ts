import { and, asc, eq, ne } from 'drizzle-orm';
import type { z } from 'zod';
import type { Account } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { enrolments, leads, messages, steps as stepsTable } from '../../db/schema.js';
import { editImpact, type ImpactEnrolment } from '../../domain/edit-impact.js';
import { sequenceDaysOff } from '../../domain/holidays.js';
import { notFound } from '../errors.js';
import type { stepImpactSchema } from '../schemas/edit-impact.js';
import { liveSteps, type Sequence } from './sequences.js';

/**
 * `POST /v1/sequences/:id/steps/:stepId/impact`: what an edit of the step's delay, its place, or
 * the sequence's window would do to the active enrolments, read in one snapshot and judged by
 * domain/edit-impact.ts. Nothing is changed.
 */
export async function stepEditImpact(db: Db, account: Account, sequence: Sequence, stepId: string, edit: z.infer<typeof stepImpactSchema>) {
  return db.transaction(
    async (tx) => {
      const steps = await liveSteps(tx as unknown as Db, sequence.id);
      if (!steps.some((s) => s.id === stepId)) throw notFound('Step');
      const rows = await tx
        .select({
          id: enrolments.id,
          status: enrolments.status,
          nextStepId: enrolments.nextStepId,
          nextDueAt: enrolments.nextDueAt,
          lastStepId: enrolments.lastStepId,
          lastSentAt: enrolments.lastSentAt,
          enrolledAt: enrolments.enrolledAt,
          timezone: leads.timezone,
          country: leads.country,
        })
        .from(enrolments)
        .innerJoin(leads, eq(leads.id, enrolments.leadId))
        .where(and(eq(enrolments.sequenceId, sequence.id), eq(enrolments.status, 'active')));
      const sentRows = await tx
        .select({ enrolmentId: messages.enrolmentId, stepId: messages.stepId, position: stepsTable.position })
        .from(messages)
        .innerJoin(enrolments, eq(enrolments.id, messages.enrolmentId))
        .innerJoin(stepsTable, eq(stepsTable.id, messages.stepId))
        .where(and(eq(enrolments.sequenceId, sequence.id), eq(enrolments.status, 'active'), ne(messages.status, 'failed')))
        .orderBy(asc(messages.createdAt));
      const paused = await tx.$count(enrolments, and(eq(enrolments.sequenceId, sequence.id), eq(enrolments.status, 'paused')));
      const sentOf = new Map<string, { stepId: string; position: number }[]>();
      for (const r of sentRows) {
        const list = sentOf.get(r.enrolmentId!) ?? [];
        list.push({ stepId: r.stepId!, position: r.position });
        sentOf.set(r.enrolmentId!, list);
      }
      const daysOff = sequenceDaysOff(sequence, account);
      const enrolled: ImpactEnrolment[] = rows.map((r) => ({
        id: r.id,
        sent: sentOf.get(r.id) ?? [],
        previousAt: r.lastSentAt ?? r.enrolledAt,
        // A plan that still names the step just sent is no plan of the next one yet.
        planned: r.nextStepId && r.nextDueAt && r.nextStepId !== r.lastStepId ? { stepId: r.nextStepId, dueAt: r.nextDueAt } : null,
        zone: r.timezone ?? account.timezone,
        daysOff: daysOff(r.country).calendar,
      }));
      const impact = editImpact({
        steps: steps.map((s) => ({ id: s.id, position: s.position, delay: { amount: s.delayAmount, unit: s.delayUnit } })),
        window: sequence.sendWindow ?? null,
        enrolments: enrolled,
        edit: { stepId, ...edit },
      });
      return { ...impact, paused };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
