import { and, asc, eq, isNotNull, isNull, ne, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { accounts, enrolments, leads, messages, senders, sequences, steps, type VariantStatus } from '../db/schema.js';
import { sequenceDaysOff, type HolidayCalendar } from '../domain/holidays.js';
import { nextStep } from '../domain/schedule.js';

/** A step's variant as sending needs it. */
export interface VariantContent {
  id: string;
  label: string;
  subject: string;
  body: string;
  weight: number;
  status: VariantStatus;
}

/** Everything the activities need to know about one enrolment, read in one place. */
export async function loadEnrolmentContext(db: Db, enrolmentId: string, options: { lock?: boolean } = {}) {
  const base = db
    .select({ enrolment: enrolments, lead: leads, sequence: sequences, account: accounts, sender: senders })
    .from(enrolments)
    .innerJoin(leads, eq(leads.id, enrolments.leadId))
    .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
    .innerJoin(accounts, eq(accounts.id, enrolments.accountId))
    // The sender bound at enrolment (null: the account had none then).
    .leftJoin(senders, eq(senders.id, enrolments.senderId))
    .where(eq(enrolments.id, enrolmentId));
  // The lock serialises a send against a reply, unsubscribe or stop written at the same moment.
  const [row] = options.lock ? await base.for('update', { of: enrolments }) : await base;
  if (!row) return undefined;
  // The sequence's steps with this enrolment's message for each, in one read: live steps plan
  // what comes next, and sent ones (even if deleted since) say where the enrolment stands.
  // Each step's variants and this enrolment's assignment ride along (an experiment costs no extra
  // round trip): at most five small rows a step, read through their step's index.
  const stepRows = await db
    .select({
      step: steps,
      sentAt: messages.createdAt,
      variants: sql<VariantContent[]>`(select coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'label', v.label,
        'subject', v.subject, 'body', v.body, 'weight', v.weight, 'status', v.status) order by v.label), '[]'::jsonb)
        from step_variants v where v.step_id = ${steps.id})`,
      assignedVariantId: sql<string | null>`(select a.variant_id from variant_assignments a
        where a.enrolment_id = ${enrolmentId} and a.step_id = ${steps.id})`,
    })
    .from(steps)
    .leftJoin(messages, and(eq(messages.stepId, steps.id), eq(messages.enrolmentId, enrolmentId), ne(messages.status, 'failed')))
    .where(and(eq(steps.sequenceId, row.sequence.id), or(isNull(steps.deletedAt), isNotNull(messages.id))))
    .orderBy(asc(steps.position));
  const liveSteps = stepRows
    .filter((r) => !r.step.deletedAt)
    .map((r) => ({ ...r.step, variants: r.variants, assignedVariantId: r.assignedVariantId }));
  const sentSteps = stepRows
    .filter((r): r is typeof r & { sentAt: Date } => r.sentAt !== null)
    .sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime())
    .map((r) => ({ stepId: r.step.id, position: r.step.position }));
  const next = nextStep(liveSteps, sentSteps);
  const zone = row.lead.timezone ?? row.account.timezone;
  return { ...row, steps: liveSteps, sentSteps, next, zone };
}

/** The days off an enrolment's schedule skips: its lead's holidays and the account's closures, unless its sequence sends on them. */
export function daysOffOf(ctx: Pick<EnrolmentContext, 'lead' | 'account' | 'sequence'>): HolidayCalendar {
  return sequenceDaysOff(ctx.sequence, ctx.account)(ctx.lead.country).calendar;
}

export type EnrolmentContext = NonNullable<Awaited<ReturnType<typeof loadEnrolmentContext>>>;
