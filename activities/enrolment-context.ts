import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { rowFromJson } from '../db/json-rows.js';
import { accounts, enrolments, leads, senders, sequences, steps, type VariantStatus } from '../db/schema.js';
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

/** A step as the context's one statement reads it, with this enrolment's email for it and the step's variants. */
interface StepOfEnrolment {
  step: Record<string, unknown>;
  sentAt: string | null;
  variants: VariantContent[];
  assignedVariantId: string | null;
}

/**
 * Everything the activities need to know about one enrolment, read in one place and in one
 * statement: every round trip is taken from the worker's one thread (bench/README.md).
 * `messageKey` also asks whether the email of that idempotency key is stored already.
 */
export async function loadEnrolmentContext(db: Db, enrolmentId: string, options: { lock?: boolean; messageKey?: string } = {}) {
  // The sequence's steps with this enrolment's message for each: live steps plan what comes next,
  // and sent ones (even if deleted since) say where the enrolment stands. An email stored but not
  // yet marked sent (its send crashed, or waits for the provider's quota) is not sent: the plan
  // is its step again, and the send finishes it with the same bytes and idempotency key. Each step's variants and
  // this enrolment's assignment ride along: at most five small rows a step, through their indexes.
  const stepsOfEnrolment = sql<StepOfEnrolment[]>`(
    select coalesce(jsonb_agg(jsonb_build_object(
        'step', to_jsonb(s),
        'sentAt', m.created_at,
        'variants', (select coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'label', v.label, 'subject', v.subject,
            'body', v.body, 'weight', v.weight, 'status', v.status) order by v.label), '[]'::jsonb)
          from step_variants v where v.step_id = s.id),
        'assignedVariantId', (select a.variant_id from variant_assignments a where a.enrolment_id = ${enrolments.id} and a.step_id = s.id)
      ) order by s.position), '[]'::jsonb)
    from steps s
    left join messages m on m.step_id = s.id and m.enrolment_id = ${enrolments.id} and m.status not in ('failed', 'sending')
    where s.sequence_id = ${enrolments.sequenceId} and (s.deleted_at is null or m.id is not null))`;
  const storedMessageId = options.messageKey
    ? sql<string | null>`(select m.id from messages m where m.idempotency_key = ${options.messageKey})`
    : sql<null>`null::uuid`;
  const base = db
    .select({
      enrolment: enrolments,
      lead: leads,
      sequence: sequences,
      account: accounts,
      sender: senders,
      stepsOfEnrolment,
      storedMessageId,
    })
    .from(enrolments)
    .innerJoin(leads, eq(leads.id, enrolments.leadId))
    .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
    .innerJoin(accounts, eq(accounts.id, enrolments.accountId))
    // The sender bound at enrolment (null: the account had none then).
    .leftJoin(senders, eq(senders.id, enrolments.senderId))
    .where(eq(enrolments.id, enrolmentId));
  // The lock serialises a send against a reply, unsubscribe or stop written at the same moment.
  // A named statement: PostgreSQL plans this query once per connection, not on every call
  // (planning cost about 3 ms a call, more than running it: bench/README.md).
  const [row] = await (options.lock ? base.for('update', { of: enrolments }) : base).prepare('enrolment_context').execute();
  if (!row) return undefined;
  const { stepsOfEnrolment: stepRows, ...context } = row;
  const read = stepRows.map((r) => ({ ...r, step: rowFromJson(steps, r.step), sentAt: r.sentAt === null ? null : new Date(r.sentAt) }));
  const liveSteps = read
    .filter((r) => !r.step.deletedAt)
    .map((r) => ({ ...r.step, variants: r.variants, assignedVariantId: r.assignedVariantId }));
  const sentSteps = read
    .filter((r): r is typeof r & { sentAt: Date } => r.sentAt !== null)
    .sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime())
    .map((r) => ({ stepId: r.step.id, position: r.step.position }));
  const next = nextStep(liveSteps, sentSteps);
  const zone = row.lead.timezone ?? row.account.timezone;
  return { ...context, steps: liveSteps, sentSteps, next, zone };
}

/** The days off an enrolment's schedule skips: its lead's holidays and the account's closures, unless its sequence sends on them. */
export function daysOffOf(ctx: Pick<EnrolmentContext, 'lead' | 'account' | 'sequence'>): HolidayCalendar {
  return sequenceDaysOff(ctx.sequence, ctx.account)(ctx.lead.country).calendar;
}

export type EnrolmentContext = NonNullable<Awaited<ReturnType<typeof loadEnrolmentContext>>>;
