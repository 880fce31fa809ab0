import { PAUSED_CAUSES } from '../domain/waiting-for.js';
import { and, eq, inArray, isNotNull, or, sql, type SQL } from 'drizzle-orm';
import { LIVE_ENROLMENT_STATUSES } from '../domain/enrolment-status.js';
import type { Db } from './client.js';
import { enrolmentEvents, enrolments, leads, sequences, type EnrolmentStatus } from './schema.js';

// The product rules of domain/ that queries need in SQL, written once. Each has its twin in
// domain/ and a test that both agree (test/enrolment-queries.test.ts).

/** The enrolment is live: active or paused. */
export const isLiveEnrolment = (): SQL => inArray(enrolments.status, [...LIVE_ENROLMENT_STATUSES]);

/** A reply waits to be acted on: `replyUnhandled` in domain/suppression.ts. */
export const replyUnhandledSql = (): SQL =>
  sql`(${enrolments.repliedAt} is not null and (${enrolments.resumedAt} is null or ${enrolments.repliedAt} > ${enrolments.resumedAt}))`;

/** A new reply may be recorded: none yet, or the last one was followed by a resume. */
export const replyMayBeRecordedSql = (): SQL => sql`(${enrolments.repliedAt} is null or ${enrolments.resumedAt} > ${enrolments.repliedAt})`;

/**
 * The lead may not be emailed, whatever its address: unsubscribed, bounced, or do not contact
 * (`suppressionOf` in domain/suppression.ts, less its `no_email`, which is no fact about a lead
 * looked up by its address).
 */
export const leadSuppressedSql = (): SQL =>
  or(isNotNull(leads.unsubscribedAt), isNotNull(leads.bouncedAt), isNotNull(leads.doNotContactAt))!;

/** The live enrolments of one lead. */
export const liveEnrolmentsOfLead = (leadId: string): SQL => and(eq(enrolments.leadId, leadId), isLiveEnrolment())!;

/**
 * Writes a reply to PostgreSQL, once per reply (a second one counts only after a resume), with
 * its timeline event. The API records it before the workflow is told, so a send racing the reply
 * sees it under its lock and holds; the workflow's own record (a signalled reply) finds it done.
 * Returns the enrolment's status when this call recorded it.
 */
export async function recordReplyRow(
  db: Db,
  accountId: string,
  enrolmentId: string,
  detail: Record<string, unknown>,
): Promise<EnrolmentStatus | undefined> {
  const updated = await db
    .update(enrolments)
    .set({ repliedAt: new Date() })
    .where(and(eq(enrolments.id, enrolmentId), replyMayBeRecordedSql()))
    .returning({ status: enrolments.status });
  if (updated.length) await db.insert(enrolmentEvents).values({ accountId, enrolmentId, type: 'reply', detail });
  return updated[0]?.status;
}

/**
 * Enrolments with what starting their workflow needs (`StartableEnrolment`: the lead's address
 * and the sequence's name go into its summary) and whether it started; the caller adds the where.
 */
export function selectStartableEnrolments(db: Db) {
  return db
    .select({
      id: enrolments.id,
      accountId: enrolments.accountId,
      sequenceId: enrolments.sequenceId,
      leadId: enrolments.leadId,
      leadEmail: leads.email,
      sequenceName: sequences.name,
      senderId: enrolments.senderId,
      workflowStartedAt: enrolments.workflowStartedAt,
    })
    .from(enrolments)
    .innerJoin(leads, eq(leads.id, enrolments.leadId))
    .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId));
}

/**
 * What a live enrolment waits for now, in SQL: the list filter's twin of domain/waiting-for.ts
 * currentWait (a paused one's pause, else an active one's wait until it is over), so the
 * filter and the answer never disagree.
 */
export const currentWaitCause = (): SQL<string | null> => sql`case
  when ${enrolments.status} = 'paused' then case
    when ${enrolments.waitingFor}->>'cause' in (${sql.join(
      PAUSED_CAUSES.map((cause) => sql`${cause}`),
      sql`, `,
    )}) then ${enrolments.waitingFor}->>'cause'
    when ${enrolments.pausedUntil} is not null then 'out_of_office'
    else 'paused' end
  when ${enrolments.status} = 'active' and (${enrolments.waitingFor}->>'until')::timestamptz > now() then ${enrolments.waitingFor}->>'cause'
  end`;
