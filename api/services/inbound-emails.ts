import type { Client } from '@temporalio/client';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Account } from '../../db/accounts.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { recordReplyRow } from '../../db/enrolment-queries.js';
import {
  accounts,
  enrolmentEvents,
  enrolments,
  inboundCorrections,
  inboundMessages,
  leads,
  sequences,
  type ReplySentiment,
} from '../../db/schema.js';
import { REASONS } from '../../domain/enrolment-status.js';
import {
  correctedAction,
  DEFAULT_OUT_OF_OFFICE_DAYS,
  describeAction,
  isMachineClass,
  outOfOfficeUntil,
  returnDayAllowed,
} from '../../domain/inbound-policy.js';
import type { InboundClass } from '../../domain/reply-classification.js';
import type { Logger } from '../../logger.js';
import { signalEnrolment, startReplyForward } from '../../temporal/client.js';
import { notifyPortal } from '../../temporal/portal-events.js';
import { ApiError } from '../errors.js';
import { variantOfInbound } from './experiments.js';
import { classificationOf, resumeColleaguesPausedBy, tellColleagues } from './inbound.js';
import { liftUnsubscription, unsubscribeLead } from './suppression.js';

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
  logger: Logger;
}

type InboundRow = typeof inboundMessages.$inferSelect;

export async function findInboundEmail({ db }: Pick<Deps, 'db'>, account: Account, id: string): Promise<InboundRow> {
  const [row] = await db
    .select()
    .from(inboundMessages)
    .where(and(eq(inboundMessages.id, id), eq(inboundMessages.accountId, account.id)));
  if (!row) throw new ApiError(404, 'not_found', 'Inbound email not found');
  return row;
}

export function toInboundEmailDto(row: InboundRow) {
  return {
    id: row.id,
    enrolmentId: row.enrolmentId,
    leadId: row.leadId,
    from: row.fromEmail,
    subject: row.subject,
    text: row.text,
    sender: row.sender,
    receivedAt: row.receivedAt.toISOString(),
    ...classificationOf(row),
    sentiment: row.sentiment,
  };
}

/**
 * A user's judgement of a reply (positive: interested), which experiments count as positive
 * replies. Only a real reply is judged: anything else (an auto-reply, someone else's email) is
 * a 409 `not_a_reply`, to be corrected to a reply first if it is one.
 */
export async function setReplySentiment(
  { db }: Pick<Deps, 'db'>,
  account: Account,
  id: string,
  sentiment: ReplySentiment | null,
): Promise<InboundRow> {
  const [row] = await db
    .update(inboundMessages)
    .set({ sentiment })
    .where(and(eq(inboundMessages.id, id), eq(inboundMessages.accountId, account.id), eq(inboundMessages.classification, 'reply')))
    .returning();
  if (row) return row;
  const found = await findInboundEmail({ db }, account, id);
  throw new ApiError(
    409,
    'not_a_reply',
    `Only a reply is judged positive, neutral or negative; this email is read as ${found.classification} (correct its classification first if it is a reply)`,
  );
}

/**
 * A user's correction of how an inbound email was read. The email then follows the policy of the
 * corrected class (domain/inbound-policy.ts) as far as what already happened allows: an
 * enrolment that ended stays ended (it is said in `effect`), an unsubscription is lifted only
 * as this email's cause (another cause keeps the lead unsubscribed), a pause is lifted only when
 * this email made it. The correction is kept (inbound_corrections) with the corrected class in one
 * transaction, under the email's row lock (two corrections at once apply one after the other,
 * each from what the other left); its side effects run after; a failure between the two is
 * finished by asking for the same correction again. It is on the timeline and told to the portal.
 */
export async function correctInboundClassification(
  deps: Deps,
  account: Account,
  id: string,
  correction: { class: InboundClass; returnDate?: string },
): Promise<{ inbound: InboundRow; effect: string }> {
  await findInboundEmail(deps, account, id); // 404 before anything else
  const outcome = await deps.db.transaction(async (txn) => {
    const tx = txn as unknown as Db;
    const [before] = await tx
      .select()
      .from(inboundMessages)
      .where(and(eq(inboundMessages.id, id), eq(inboundMessages.accountId, account.id)))
      .for('update');
    if (!before) throw new ApiError(404, 'not_found', 'Inbound email not found');
    const [context] = await tx
      .select({ enrolment: enrolments, leadZone: leads.timezone, outOfOfficeDays: sequences.outOfOfficeDays })
      .from(accounts)
      .leftJoin(enrolments, before.enrolmentId ? eq(enrolments.id, before.enrolmentId) : sql`false`)
      .leftJoin(sequences, eq(sequences.id, enrolments.sequenceId))
      .leftJoin(leads, before.leadId ? eq(leads.id, before.leadId) : sql`false`)
      .where(eq(accounts.id, account.id));
    const zone = context?.leadZone ?? account.timezone;
    if (correction.returnDate !== undefined && !returnDayAllowed(correction.returnDate, before.receivedAt, zone)) {
      throw new ApiError(
        422,
        'return_date_out_of_range',
        `returnDate must lie between the day the email arrived and a year after it, in the lead's time zone (${zone})`,
        'returnDate',
      );
    }
    const sameDate = correction.returnDate === undefined || correction.returnDate === before.returnDate;
    if (before.classification === correction.class && sameDate) return { same: true as const, inbound: before };

    const enrolment = context?.enrolment ?? null;
    const pausedByThis = enrolment ? await pausedBy(tx, enrolment, before) : false;
    const action = correctedAction(correction.class, before.sender, enrolment, pausedByThis && before.action === 'on_reply');
    const returnDate = correction.class === 'out_of_office' ? (correction.returnDate ?? before.returnDate) : null;
    const resumesAt =
      action === 'wait_for_return'
        ? outOfOfficeUntil({
            returnDate,
            receivedAt: before.receivedAt,
            timeZone: zone,
            defaultDays: context?.outOfOfficeDays ?? DEFAULT_OUT_OF_OFFICE_DAYS,
          })
        : null;
    // A correction asked while another was left unfinished takes its place.
    await tx
      .update(inboundCorrections)
      .set({ appliedAt: new Date(), effect: 'superseded by a later correction' })
      .where(and(eq(inboundCorrections.inboundId, before.id), isNull(inboundCorrections.appliedAt)));
    const [updated] = await tx
      .update(inboundMessages)
      .set({
        classification: correction.class,
        action,
        returnDate,
        resumesAt,
        correctedFrom: before.correctedFrom ?? before.classification,
        correctedAt: new Date(),
        isAutoReply: isMachineClass(correction.class),
      })
      .where(eq(inboundMessages.id, before.id))
      .returning();
    const [row] = await tx
      .insert(inboundCorrections)
      .values({
        accountId: account.id,
        inboundId: before.id,
        previousClass: before.classification,
        previousAction: before.action,
        class: correction.class,
        action,
        returnDate,
        resumesAt,
        enrolmentStatus: enrolment?.status ?? null,
        pausedByThis,
        // The time it is applied, under the email's lock, not the transaction's start (now()): two
        // corrections asked at once are then ordered as they were applied.
        createdAt: sql`clock_timestamp()`,
      })
      .returning();
    if (action === 'on_reply' && enrolment) {
      await recordReplyRow(tx, account.id, enrolment.id, {
        source: 'correction',
        inboundId: before.id,
        class: correction.class,
        action,
        ...(before.evidence ? { evidence: before.evidence } : {}),
      });
    }
    return { same: false as const, inbound: updated!, kept: row! };
  });
  if (outcome.same) {
    const [unfinished] = await deps.db
      .select()
      .from(inboundCorrections)
      .where(and(eq(inboundCorrections.inboundId, outcome.inbound.id), isNull(inboundCorrections.appliedAt)))
      .orderBy(desc(inboundCorrections.createdAt))
      .limit(1);
    if (unfinished) return { inbound: outcome.inbound, effect: await applyCorrection(deps, account, outcome.inbound, unfinished) };
    return { inbound: outcome.inbound, effect: 'nothing: the email was already read so' };
  }
  return { inbound: outcome.inbound, effect: await applyCorrection(deps, account, outcome.inbound, outcome.kept) };
}

type CorrectionRow = typeof inboundCorrections.$inferSelect;

/**
 * The side effects of a kept correction, each idempotent (signals guarded by the workflow's
 * state, workflow ids and portal event ids fixed by the correction), so running them again after
 * a failure changes nothing twice. Then the timeline entry and `applied_at`, in one transaction.
 */
async function applyCorrection(deps: Deps, account: Account, inbound: InboundRow, kept: CorrectionRow): Promise<string> {
  const { action, previousAction, resumesAt, pausedByThis } = kept;
  const [enrolment] = inbound.enrolmentId ? await deps.db.select().from(enrolments).where(eq(enrolments.id, inbound.enrolmentId)) : [];
  const [lead] = inbound.leadId ? await deps.db.select({ timezone: leads.timezone }).from(leads).where(eq(leads.id, inbound.leadId)) : [];
  const zone = lead?.timezone ?? account.timezone;
  const wasLive = kept.enrolmentStatus === 'active' || kept.enrolmentStatus === 'paused';
  const effects: string[] = [];
  if (kept.enrolmentStatus && !wasLive && action !== 'record_only')
    effects.push(`the enrolment had already ended (${kept.enrolmentStatus})`);

  // What the first reading did that the corrected one would not have done.
  if (previousAction === 'unsubscribe_lead' && action !== 'unsubscribe_lead' && inbound.leadId) {
    const lifted = await liftUnsubscription(deps.db, inbound.leadId, inbound.id);
    effects.push(
      lifted.madeByThis && lifted.subscribed
        ? 'the lead is subscribed again'
        : lifted.madeByThis
          ? 'the lead stays unsubscribed (for another reason too)'
          : 'the lead stays unsubscribed (not by this email)',
    );
  }
  if (previousAction === 'on_reply' && action !== 'on_reply') {
    const resumed = await resumeColleaguesPausedBy(deps, inbound, `undo-${kept.id}`);
    if (resumed) effects.push("the lead's colleagues it paused resume");
  }
  if (wasLive && enrolment) {
    if (action === 'wait_for_return' && resumesAt) {
      // A pause this email caused as a reply becomes the wait for the lead's return.
      if (pausedByThis && previousAction === 'on_reply') await signalEnrolment(deps, enrolment.id, 'resume');
      await signalEnrolment(deps, enrolment.id, 'outOfOffice', { until: resumesAt });
    } else if (action === 'on_reply') {
      await signalEnrolment(deps, enrolment.id, 'reply');
      await tellColleagues(deps, inbound, `correction-${kept.id}`);
    } else if (action === 'unsubscribe_lead' && inbound.leadId) {
      await unsubscribeLead(deps, inbound.leadId, 'reply', { inboundId: inbound.id });
    } else if (pausedByThis) {
      await signalEnrolment(deps, enrolment.id, 'resume');
      effects.push('the enrolment resumes');
    }
  } else if (action === 'unsubscribe_lead' && inbound.leadId) {
    await unsubscribeLead(deps, inbound.leadId, 'reply', { inboundId: inbound.id });
  }
  // What a person wrote reaches the user's mailbox: an email first read as a machine's was not forwarded.
  if (isMachineClass(kept.previousClass) && !isMachineClass(kept.class)) {
    await startReplyForward(deps, inbound.id, `Forward the email from ${inbound.fromEmail || 'an unknown sender'} to the user`);
  }
  const effect = [describeAction(action, resumesAt ? { at: resumesAt, zone } : null), ...effects].join('; ');

  await notifyPortal(
    deps,
    account.id,
    'inbound.corrected',
    {
      inboundId: inbound.id,
      enrolmentId: inbound.enrolmentId,
      leadId: inbound.leadId,
      previousClass: kept.previousClass,
      ...classificationOf(inbound),
      effect,
      variant: await variantOfInbound(deps.db, inbound),
    },
    `inbound-corrected-${kept.id}`,
  );
  await deps.db.transaction(async (tx) => {
    const [applied] = await tx
      .update(inboundCorrections)
      .set({ appliedAt: new Date(), effect })
      .where(and(eq(inboundCorrections.id, kept.id), isNull(inboundCorrections.appliedAt)))
      .returning({ id: inboundCorrections.id });
    if (applied && enrolment) {
      await tx.insert(enrolmentEvents).values({
        accountId: account.id,
        enrolmentId: enrolment.id,
        type: 'classification_corrected',
        detail: {
          inboundId: inbound.id,
          correctionId: kept.id,
          previousClass: kept.previousClass,
          class: kept.class,
          action,
          effect,
          ...(resumesAt ? { until: resumesAt.toISOString() } : {}),
        },
      });
    }
  });
  return effect;
}

/**
 * Whether the enrolment's pause is this email's doing, from what the database proves: a reply
 * pause ("the lead replied") recorded after this email's reply, with no later reply; or the wait
 * for this email's return date. A person's pause, or a pause a later email made, is not.
 */
async function pausedBy(db: Db, enrolment: typeof enrolments.$inferSelect, inbound: InboundRow): Promise<boolean> {
  if (enrolment.status !== 'paused') return false;
  if (inbound.action === 'wait_for_return') {
    return enrolment.pausedUntil !== null && enrolment.pausedUntil.getTime() === inbound.resumesAt?.getTime();
  }
  if (inbound.action !== 'on_reply') return false;
  const [lastReply] = await db
    .select({ detail: enrolmentEvents.detail, at: enrolmentEvents.createdAt })
    .from(enrolmentEvents)
    .where(and(eq(enrolmentEvents.enrolmentId, enrolment.id), eq(enrolmentEvents.type, 'reply')))
    .orderBy(desc(enrolmentEvents.createdAt))
    .limit(1);
  if (lastReply?.detail.inboundId !== inbound.id) return false;
  const [lastChange] = await db
    .select({ toStatus: enrolmentEvents.toStatus, detail: enrolmentEvents.detail, at: enrolmentEvents.createdAt })
    .from(enrolmentEvents)
    .where(and(eq(enrolmentEvents.enrolmentId, enrolment.id), eq(enrolmentEvents.type, 'status_changed')))
    .orderBy(desc(enrolmentEvents.createdAt))
    .limit(1);
  return lastChange?.toStatus === 'paused' && lastChange.detail.reason === REASONS.replied && lastChange.at >= lastReply.at;
}
