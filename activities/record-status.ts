import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import {
  accounts,
  enrolments,
  leads,
  leadUnsubscriptions,
  senders,
  sequences,
  type EnrolmentStatus,
  type OnReplyAction,
} from '../db/schema.js';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { notifyEnrolmentEnded } from '../temporal/portal-events.js';
import { recordReplyRow } from '../db/enrolment-queries.js';
import { isLive } from '../domain/enrolment-status.js';
import { senderHold, sequenceHold } from '../domain/enrolment-rules.js';
import { pausedWait } from '../domain/waiting-for.js';

/** Mirrors a status the workflow decided into PostgreSQL, with a timeline event. Idempotent. */
export function createRecordStatus(deps: { db: Db; logger: Logger; temporal: Client; config: Config }) {
  const { db, logger } = deps;
  return async function recordStatus(input: {
    enrolmentId: string;
    status: EnrolmentStatus;
    reason: string | null;
    /** Given once an out-of-office is in play: the date the enrolment waits for, or null (no longer). */
    pausedUntil?: string | null;
    /** The inbound email that caused the change (a colleague's reply), when one did. */
    inboundId?: string;
  }): Promise<void> {
    // Most changes are one read and one compare-and-set statement (the enrolment still as read,
    // its timeline event in the same statement), retried if something changed it in between. An
    // unsubscribe or a bounce writes the lead too, in a transaction under the enrolment's lock.
    const leadToo = input.status === 'unsubscribed' || input.status === 'bounced';
    let written: Written | undefined | 'raced';
    let attempts = 0;
    do {
      // Each race is another writer's change landing first: a handful in a row is no race but a bug.
      if (++attempts > 5) throw new Error(`the status of enrolment ${input.enrolmentId} kept changing while it was recorded`);
      written = leadToo
        ? await db.transaction(async (tx) => {
            const [current] = await currentOf(tx as unknown as Db, input.enrolmentId, { lock: true });
            return current ? write(tx as unknown as Db, current, input, { leadToo: true }) : undefined;
          })
        : await (async () => {
            const [current] = await currentOf(db, input.enrolmentId);
            return current ? write(db, current, input, { leadToo: false }) : undefined;
          })();
    } while (written === 'raced');
    if (written?.changed)
      logger.info({ enrolmentId: written.enrolment.id, from: written.enrolment.status, to: input.status }, 'enrolment status changed');
    // An ending is announced when written, and again when found written already: by an attempt
    // whose announcement failed, or by a send that completed the enrolment and whose answer was
    // lost, or by this activity run again (a local activity runs again when its workflow task
    // is retried). Once: an ending delivered already is not delivered again.
    if (written && !isLive(input.status)) {
      const { enrolment } = written;
      const reason = written.changed ? input.reason : enrolment.endedReason;
      await notifyEnrolmentEnded(deps, enrolment, { status: input.status, reason }, enrolment.portalWebhookUrl);
    }
  };
}

type RecordStatusInput = Parameters<ReturnType<typeof createRecordStatus>>[0];
type Current = typeof enrolments.$inferSelect & { portalWebhookUrl: string | null };
/** What was written: `changed` when the status itself changed (not only an out-of-office date; not when it already was). */
interface Written {
  enrolment: Current;
  changed: boolean;
}

/** The enrolment as it is, with its account's portal webhook URL (which an ending is announced to). */
function currentOf(db: Db, enrolmentId: string, options: { lock?: boolean } = {}) {
  const query = db
    .select({ ...getTableColumns(enrolments), portalWebhookUrl: accounts.portalWebhookUrl })
    .from(enrolments)
    .innerJoin(accounts, eq(accounts.id, enrolments.accountId))
    .where(eq(enrolments.id, enrolmentId));
  return options.lock ? query.for('update', { of: enrolments }) : query;
}

/**
 * The status change and its timeline event, in one statement that applies only while the
 * enrolment is as `current` was read ('raced' otherwise: read again). Nothing when it already is.
 */
async function write(
  db: Db,
  current: Current,
  input: RecordStatusInput,
  options: { leadToo: boolean },
): Promise<Written | undefined | 'raced'> {
  const pausedUntil = input.status === 'paused' && input.pausedUntil ? new Date(input.pausedUntil) : null;
  // A second out-of-office moves the date of a wait without changing the status.
  const untilMoved = input.pausedUntil !== undefined && current.pausedUntil?.getTime() !== pausedUntil?.getTime();
  if (current.status === input.status && !untilMoved) return { enrolment: current, changed: false };
  const now = new Date();
  const final = !isLive(input.status);
  // A pause the workflow took over from the database (its plan or its send found the sequence
  // paused, by a person or the breaker, or its sender retired) comes without a reason: the
  // database says which, so the timeline and waitingFor name it rather than a person.
  const reason = input.status === 'paused' && !input.reason && !pausedUntil ? await holdReason(db, current) : input.reason;
  const update = db
    .update(enrolments)
    .set({
      status: input.status,
      updatedAt: now,
      ...(final ? { endedAt: now, endedReason: reason, nextStepId: null, nextDueAt: null } : {}),
      ...(input.status === 'active' && current.status === 'paused' ? { resumedAt: now } : {}),
      ...(input.pausedUntil !== undefined || input.status !== 'paused' ? { pausedUntil } : {}),
      // What it waits for now: who paused it, or the lead's return. A resumed one's next plan says.
      waitingFor:
        input.status === 'paused'
          ? pausedWait({
              reason,
              inboundId: input.inboundId,
              pausedUntil: input.pausedUntil !== undefined ? pausedUntil : current.pausedUntil,
            })
          : null,
    })
    .where(
      and(
        eq(enrolments.id, current.id),
        eq(enrolments.status, current.status),
        // As read: a JavaScript Date holds milliseconds, PostgreSQL microseconds.
        sql`date_trunc('milliseconds', ${enrolments.pausedUntil}) is not distinct from ${current.pausedUntil?.toISOString() ?? null}::timestamptz`,
      ),
    )
    .returning({ id: enrolments.id });
  const detail = {
    ...(reason ? { reason } : {}),
    ...(pausedUntil ? { until: pausedUntil.toISOString() } : {}),
    ...(input.inboundId ? { inboundId: input.inboundId } : {}),
  };
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      with changed as (${update.getSQL()})
      insert into enrolment_events (account_id, enrolment_id, type, from_status, to_status, detail)
      select ${current.accountId}, changed.id, 'status_changed', ${current.status}, ${input.status}, ${JSON.stringify(detail)}::jsonb
      from changed
      returning id`),
  );
  if (!rows.length) return 'raced';
  const changed = current.status !== input.status;
  if (changed && options.leadToo) {
    if (input.status === 'unsubscribed') await keepUnsubscribed(db, current, now);
    else
      await db
        .update(leads)
        .set({ bouncedAt: now })
        .where(and(eq(leads.id, current.leadId), isNull(leads.bouncedAt)));
  }
  return { enrolment: current, changed };
}

/** Why the database holds an enrolment paused (its sequence's pause, a breaker's trip, a retired sender), or null: a person's pause. */
async function holdReason(db: Db, enrolment: { sequenceId: string; senderId: string | null }): Promise<string | null> {
  const [row] = await db
    .select({
      status: sequences.status,
      protection: sequences.protection,
      retiredAt: senders.retiredAt,
      senderProtection: senders.protection,
    })
    .from(sequences)
    .leftJoin(senders, eq(senders.id, sql`${enrolment.senderId}::uuid`))
    .where(eq(sequences.id, enrolment.sequenceId));
  if (!row) return null;
  return (sequenceHold(row.status, row.protection) ?? senderHold(!!row.retiredAt, row.senderProtection))?.reason ?? null;
}

/**
 * An enrolment that ended unsubscribed leaves its lead unsubscribed account-wide, even when the
 * signal came straight from the CLI: a cause `workflow` is kept when the lead has none. Not when
 * every cause it had was lifted (a user corrected the email to "not an unsubscribe"): the signal
 * was already on its way when the correction lifted it.
 */
async function keepUnsubscribed(db: Db, enrolment: { leadId: string; accountId: string }, now: Date): Promise<void> {
  await db.select({ id: leads.id }).from(leads).where(eq(leads.id, enrolment.leadId)).for('update');
  const causes = await db
    .select({ liftedAt: leadUnsubscriptions.liftedAt })
    .from(leadUnsubscriptions)
    .where(eq(leadUnsubscriptions.leadId, enrolment.leadId));
  if (causes.length && causes.every((c) => c.liftedAt)) return;
  if (!causes.length) {
    await db.insert(leadUnsubscriptions).values({ accountId: enrolment.accountId, leadId: enrolment.leadId, source: 'workflow' });
  }
  await db
    .update(leads)
    .set({ unsubscribedAt: now })
    .where(and(eq(leads.id, enrolment.leadId), isNull(leads.unsubscribedAt)));
}

/** Records that the lead replied (once) and answers what the sequence does about it. */
export function createRecordReply({ db }: { db: Db }) {
  return async function recordReply({ enrolmentId }: { enrolmentId: string }): Promise<OnReplyAction> {
    const [row] = await db
      .select({ enrolment: enrolments, onReply: sequences.onReply })
      .from(enrolments)
      .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
      .where(eq(enrolments.id, enrolmentId));
    if (!row) return 'stop';
    await recordReplyRow(db, row.enrolment.accountId, enrolmentId, { onReply: row.onReply });
    return row.onReply;
  };
}
