import type { Client } from '@temporalio/client';
import { and, eq, sql } from 'drizzle-orm';
import type { Account } from '../../db/accounts.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { recordReplyRow } from '../../db/enrolment-queries.js';
import { accounts, enrolmentEvents, enrolments, inboundMessages, leads, sequences } from '../../db/schema.js';
import {
  actionFor,
  DEFAULT_OUT_OF_OFFICE_DAYS,
  describeAction,
  outOfOfficeUntil,
  type InboundAction,
} from '../../domain/inbound-policy.js';
import type { InboundClass } from '../../domain/reply-classification.js';
import type { Logger } from '../../logger.js';
import { signalEnrolment, startReplyForward } from '../../temporal/client.js';
import { notifyPortal } from '../../temporal/portal-events.js';
import { ApiError } from '../errors.js';
import { classificationOf, tellColleagues } from './inbound.js';
import { unsubscribeLead } from './suppression.js';

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
  };
}

/**
 * A user's correction of how an inbound email was read. The email then follows the policy of the
 * corrected class (domain/inbound-policy.ts) as far as what already happened allows: an
 * enrolment that ended stays ended (it is said in `effect`), an unsubscription is lifted only
 * when this email made it. The correction is on the timeline and told to the portal.
 */
export async function correctInboundClassification(
  deps: Deps,
  account: Account,
  id: string,
  correction: { class: InboundClass; returnDate?: string },
): Promise<{ inbound: InboundRow; effect: string }> {
  const before = await findInboundEmail(deps, account, id);
  const sameDate = correction.returnDate === undefined || correction.returnDate === before.returnDate;
  if (before.classification === correction.class && sameDate) {
    return { inbound: before, effect: 'nothing: the email was already read so' };
  }
  const [context] = await deps.db
    .select({ enrolment: enrolments, leadZone: leads.timezone, outOfOfficeDays: sequences.outOfOfficeDays })
    .from(accounts)
    .leftJoin(enrolments, before.enrolmentId ? eq(enrolments.id, before.enrolmentId) : sql`false`)
    .leftJoin(sequences, eq(sequences.id, enrolments.sequenceId))
    .leftJoin(leads, before.leadId ? eq(leads.id, before.leadId) : sql`false`)
    .where(eq(accounts.id, account.id));
  const enrolment = context?.enrolment ?? null;
  const zone = context?.leadZone ?? account.timezone;
  // A pause this email caused as a reply may become the wait for the lead's return.
  const pausedByReply = enrolment?.status === 'paused' && before.action === 'on_reply';
  // The user's word is the class: "this was a real reply" applies onReply whoever wrote it.
  const action: InboundAction =
    correction.class === 'reply'
      ? 'on_reply'
      : pausedByReply && correction.class === 'out_of_office'
        ? 'wait_for_return'
        : actionFor(correction.class, before.sender, enrolment);
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

  const effects: string[] = [];
  const live = enrolment !== null && (enrolment.status === 'active' || enrolment.status === 'paused');
  if (enrolment && !live && action !== 'record_only') effects.push(`the enrolment had already ended (${enrolment.status})`);

  const inbound = await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(inboundMessages)
      .set({
        classification: correction.class,
        action,
        returnDate,
        resumesAt,
        correctedFrom: before.correctedFrom ?? before.classification,
        correctedAt: new Date(),
        isAutoReply: ['out_of_office', 'auto_reply', 'bounce_notice'].includes(correction.class),
      })
      .where(eq(inboundMessages.id, before.id))
      .returning();
    if (action === 'on_reply' && enrolment) {
      await recordReplyRow(tx as unknown as Db, account.id, enrolment.id, {
        source: 'correction',
        inboundId: before.id,
        class: correction.class,
        action,
        ...(before.evidence ? { evidence: before.evidence } : {}),
      });
    }
    return updated!;
  });

  // What the first reading did that the corrected one would not have done.
  if (before.action === 'unsubscribe_lead' && action !== 'unsubscribe_lead' && before.leadId) {
    effects.push(
      (await liftUnsubscribeMadeBy(deps, before))
        ? 'the lead is subscribed again'
        : 'the lead stays unsubscribed (not by this email alone)',
    );
  }
  if (live && enrolment) {
    const pausedByThis = enrolment.status === 'paused' && (before.action === 'on_reply' || before.action === 'wait_for_return');
    if (action === 'wait_for_return' && resumesAt) {
      // A pause this email caused as a reply becomes the wait for the lead's return.
      if (pausedByThis && before.action === 'on_reply') await signalEnrolment(deps, enrolment.id, 'resume');
      await signalEnrolment(deps, enrolment.id, 'outOfOffice', { until: resumesAt });
    } else if (action === 'on_reply') {
      await signalEnrolment(deps, enrolment.id, 'reply');
      await tellColleagues(deps, inbound);
    } else if (action === 'unsubscribe_lead' && before.leadId) {
      await unsubscribeLead(deps, before.leadId, 'reply', { inboundId: before.id });
    } else if (pausedByThis) {
      await signalEnrolment(deps, enrolment.id, 'resume');
      effects.push('the enrolment resumes');
    }
  } else if (action === 'unsubscribe_lead' && before.leadId) {
    await unsubscribeLead(deps, before.leadId, 'reply', { inboundId: before.id });
  }
  // What a person wrote reaches the user's mailbox: an email first read as a machine's was not forwarded.
  if (before.isAutoReply && !inbound.isAutoReply) {
    await startReplyForward(deps, before.id, `Forward the email from ${before.fromEmail || 'an unknown sender'} to the user`);
  }
  const effect = [describeAction(action, resumesAt ? { at: resumesAt, zone } : null), ...effects].join('; ');

  if (enrolment) {
    await deps.db.insert(enrolmentEvents).values({
      accountId: account.id,
      enrolmentId: enrolment.id,
      type: 'classification_corrected',
      detail: {
        inboundId: before.id,
        previousClass: before.classification,
        class: correction.class,
        action,
        effect,
        ...(resumesAt ? { until: resumesAt.toISOString() } : {}),
      },
    });
  }
  await notifyPortal(
    deps,
    account.id,
    'inbound.corrected',
    {
      inboundId: before.id,
      enrolmentId: before.enrolmentId,
      leadId: before.leadId,
      previousClass: before.classification,
      ...classificationOf(inbound),
      effect,
    },
    `inbound-corrected-${before.id}-${inbound.correctedAt!.getTime()}`,
  );
  return { inbound, effect };
}

/**
 * Lifts the lead's unsubscription if this email made it: an `unsubscribe` timeline entry names
 * it. Anything else (the footer link, a webhook, an earlier email) keeps the lead unsubscribed.
 */
async function liftUnsubscribeMadeBy(deps: Deps, inbound: InboundRow): Promise<boolean> {
  const [madeByThis] = await deps.db
    .select({ id: enrolmentEvents.id })
    .from(enrolmentEvents)
    .where(and(eq(enrolmentEvents.type, 'unsubscribe'), sql`${enrolmentEvents.detail}->>'inboundId' = ${inbound.id}`))
    .limit(1);
  if (!madeByThis || !inbound.leadId) return false;
  const lifted = await deps.db
    .update(leads)
    .set({ unsubscribedAt: null, updatedAt: new Date() })
    .where(and(eq(leads.id, inbound.leadId), eq(leads.accountId, inbound.accountId)))
    .returning({ id: leads.id });
  return lifted.length > 0;
}
