import type { Client } from '@temporalio/client';
import { and, desc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { Resend } from 'resend';
import { notifyPortal } from '../../temporal/portal-events.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import {
  accounts,
  enrolmentEvents,
  enrolments,
  inboundMessages,
  leads,
  messages,
  notifications,
  senders,
  sequences,
  webhookEvents,
  type EnrolmentEventType,
  type NotificationType,
} from '../../db/schema.js';
import { companyKeyOf } from '../../domain/company.js';
import { actionFor, DEFAULT_OUT_OF_OFFICE_DAYS, describeAction, isMachineClass, outOfOfficeUntil } from '../../domain/inbound-policy.js';
import { classifyInbound, type InboundClass } from '../../domain/reply-classification.js';
import {
  boundedHeaders,
  boundedRecipients,
  INBOUND_LIMITS,
  isUuid,
  referencedIds,
  referencedMessageIds,
  replyTokenFrom,
  senderAddress,
  senderAuthenticated,
  senderRelation,
  storableJson,
  storableLine,
  storableText,
  unsubscribeTokenFromMailto,
} from '../../domain/inbound.js';
import { webhookEventsTotal } from '../../metrics.js';
import { announceRecentTripsAgain, guardDeliverability } from './deliverability.js';
import { ApiError } from '../errors.js';
import { verifyUnsubscribeToken } from '../../domain/unsubscribe-token.js';
import { normaliseMessageId } from '../../domain/thread.js';
import { replyOwner } from '../../db/senders.js';
import type { Logger } from '../../logger.js';
import { signalEnrolment, startColleagueBroadcast, startReplyForward } from '../../temporal/client.js';
import { isLiveEnrolment, recordReplyRow, replyUnhandledSql } from '../../db/enrolment-queries.js';
import { variantOfInbound } from './experiments.js';
import { bounceLead, unsubscribeLead } from './suppression.js';
import type { ColleagueSelection } from '../../workflows/contract.js';

export interface InboundDeps {
  db: Db;
  temporal: Client;
  config: Config;
  logger: Logger;
}

export interface InboundEmail {
  providerId: string | null;
  from: string;
  to: string[];
  subject: string;
  text: string;
  headers: Record<string, string | undefined>;
}

/**
 * The email as we keep it: every field cleaned of what PostgreSQL cannot store (NUL, unpaired
 * surrogates, control characters) and bounded (see INBOUND_LIMITS); headers bounded in count and
 * size and only read, never stored. Whatever a stranger sends, what is left can be recorded.
 */
export function cleanInboundEmail(email: {
  providerId?: unknown;
  from?: unknown;
  to?: unknown[];
  subject?: unknown;
  text?: unknown;
  headers?: unknown;
}): InboundEmail {
  return {
    providerId: storableLine(email.providerId, INBOUND_LIMITS.providerId) || null,
    from: senderAddress(email.from),
    to: boundedRecipients(email.to ?? []),
    subject: storableLine(email.subject, INBOUND_LIMITS.subject),
    text: storableText(email.text, INBOUND_LIMITS.text),
    headers: boundedHeaders(email.headers),
  };
}

/**
 * What applying an event or an email wrote (in the caller's transaction), and what is left to
 * do once that commits: signals, workflow starts, portal notifications, each idempotent by id.
 */
interface Applied {
  outcome: string;
  after?: () => Promise<void>;
}

/** The parts of Resend's event payloads we read; everything else is kept as received. */
export interface EmailEventData {
  email_id?: string;
  /** The Message-ID the email went out with (Resend's email.* events carry it). */
  message_id?: unknown;
  tags?: Record<string, string> | null;
  bounce?: { type?: string; subType?: string; message?: string };
  click?: { link?: string };
  failed?: { reason?: string };
}
export type EmailEvent = { type: string; created_at?: string; data: EmailEventData };

/** Finds our message from the event's tags (message_id) or the provider's email id. */
async function messageOf(db: Db, data: EmailEventData) {
  const tagged = data.tags?.message_id;
  const conditions = [
    ...(typeof tagged === 'string' && isUuid(tagged) ? [eq(messages.id, tagged)] : []),
    ...(typeof data.email_id === 'string' ? [eq(messages.providerId, data.email_id)] : []),
  ];
  if (!conditions.length) return undefined;
  const [message] = await db
    .select()
    .from(messages)
    .where(or(...conditions))
    .limit(1);
  return message;
}

/** Whether an inbound email is one of ours: its Message-ID is the one we or the provider sent it with. */
async function ourOwnEmail(db: Db, headers: Record<string, string | undefined>, inboundDomain: string): Promise<boolean> {
  const value = Object.entries(headers).find(([name]) => name.toLowerCase() === 'message-id')?.[1];
  const id = normaliseMessageId(value);
  if (!id) return false;
  const suffix = `@${inboundDomain.toLowerCase()}>`;
  const ours = id.toLowerCase().endsWith(suffix) ? id.slice(1, -suffix.length).toLowerCase() : null;
  const [found] = await db
    .select({ id: messages.id })
    .from(messages)
    .where(or(eq(messages.rfcMessageId, id), ours && isUuid(ours) ? eq(messages.id, ours) : undefined))
    .limit(1);
  return !!found;
}

/** A redelivery that finds its event unfinished this long after it arrived takes over its side effects. */
const UNFINISHED_EVENT_LEASE_MS = 60_000;

/**
 * One Resend webhook delivery, applied once per event id however many arrive at once: the event
 * row is inserted (insert … on conflict do nothing returning) in the same transaction as the
 * event's own database writes, so only the delivery that inserted it applies it, and a crash
 * before the commit leaves neither. Side effects outside the database run after the commit;
 * `processed_at` is set once they are done (in the transaction, for an event that has none). A
 * redelivery finding the row without it within UNFINISHED_EVENT_LEASE_MS is answered 503
 * `inbound_in_progress` (inProgress), so the provider delivers it again; after it (the first
 * delivery died, or failed, after its commit) runs them again: each is idempotent (deterministic
 * workflow ids, portal events keyed by id, signals guarded by state).
 */
export async function receiveWebhookEvent(
  deps: InboundDeps,
  id: string,
  event: EmailEvent,
): Promise<{ duplicate: true } | { outcome: string }> {
  const { db } = deps;
  // email.received names an email to fetch: fetched before the transaction, which then holds no
  // HTTP call open; a redelivery of an event already recorded fetches nothing.
  let received: InboundEmail | undefined;
  if (event.type === 'email.received') {
    const [seen] = await db.select({ id: webhookEvents.id }).from(webhookEvents).where(eq(webhookEvents.id, id));
    if (seen) return duplicateDelivery(deps, id, event);
    if (!deps.config.RESEND_API_KEY) return { outcome: 'no RESEND_API_KEY to fetch the received email' };
    received = await fetchReceived(deps, event.data);
  }
  const applied = await db.transaction(async (tx) => {
    const [inserted] = await tx
      .insert(webhookEvents)
      .values({ id, type: event.type, payload: storableJson(event) })
      .onConflictDoNothing()
      .returning({ id: webhookEvents.id });
    if (!inserted) return undefined;
    const result = await applyEmailEvent({ ...deps, db: tx as unknown as Db }, event, received, deps);
    // Nothing left for after the commit: the event is finished with it, so a delivery waiting on
    // the id's index finds it processed (a duplicate), not at work (inProgress).
    if (!result.after) await tx.update(webhookEvents).set({ processedAt: new Date() }).where(eq(webhookEvents.id, id));
    return result;
  });
  if (!applied) return duplicateDelivery(deps, id, event);
  webhookEventsTotal.inc({ type: event.type, result: 'handled' });
  if (applied.after) {
    await applied.after();
    await db.update(webhookEvents).set({ processedAt: new Date() }).where(eq(webhookEvents.id, id));
  }
  return { outcome: applied.outcome };
}

/**
 * A delivery of an event or email that is recorded but whose side effects have not finished, within
 * UNFINISHED_EVENT_LEASE_MS of its arrival: another delivery may still be at work on them, or
 * they failed (Temporal away) and the provider is retrying within seconds. Answering 200 would
 * make the provider stop, and nothing would ever run them: a 503 makes it deliver again later,
 * when the first has finished (200, duplicate) or the lease is over (this delivery takes them over).
 */
const inProgress = (what: string) =>
  new ApiError(
    503,
    'inbound_in_progress',
    `${what} is recorded but its side effects are not finished yet (another delivery is at work, or failed): deliver it again later`,
  );

async function duplicateDelivery(deps: InboundDeps, id: string, event: EmailEvent): Promise<{ duplicate: true }> {
  const [stored] = await deps.db.select().from(webhookEvents).where(eq(webhookEvents.id, id));
  if (stored && !stored.processedAt) {
    if (Date.now() - stored.receivedAt.getTime() <= UNFINISHED_EVENT_LEASE_MS) {
      webhookEventsTotal.inc({ type: event.type, result: 'in_progress' });
      throw inProgress(`Webhook event ${id}`);
    }
    deps.logger.warn({ eventId: id, type: event.type }, 'webhook event left unfinished: running its side effects again');
    await effectsAgain(deps, event);
    await deps.db.update(webhookEvents).set({ processedAt: new Date() }).where(eq(webhookEvents.id, id));
  }
  webhookEventsTotal.inc({ type: event.type, result: 'duplicate' });
  return { duplicate: true };
}

/** The side effects of an event whose database writes committed, derived again from the database. */
async function effectsAgain(deps: InboundDeps, event: EmailEvent): Promise<void> {
  if (event.type === 'email.received') {
    if (!deps.config.RESEND_API_KEY) return;
    // Recording it again finds the row and answers that row's side effects.
    await handleInboundEmail(deps, await fetchReceived(deps, event.data));
    return;
  }
  const message = await messageOf(deps.db, event.data);
  if (!message) return;
  if ((event.type === 'email.bounced' && event.data.bounce?.type === 'Permanent') || event.type === 'email.suppressed') {
    const bounce = event.data.bounce ?? {};
    await bounceLead(
      deps,
      message.leadId,
      event.type === 'email.suppressed'
        ? 'the provider suppressed the address'
        : `${bounce.subType ?? 'hard'} bounce: ${bounce.message ?? ''}`.trim(),
      { messageId: message.id },
    );
    await guardDeliverability(deps, message.id);
    await announceRecentTripsAgain(deps, message.id);
  } else if (event.type === 'email.complained') {
    await unsubscribeLead(deps, message.leadId, 'spam complaint', {}, { messageId: message.id });
    await guardDeliverability(deps, message.id);
    await announceRecentTripsAgain(deps, message.id);
  }
}

/**
 * Applies one provider event's database writes through `tx` (the caller's transaction, which
 * also records the event id) and answers what is left to do after the commit, through `deps`.
 * Each event changes only what it describes.
 */
export async function applyEmailEvent(
  tx: InboundDeps,
  event: EmailEvent,
  received: InboundEmail | undefined,
  deps: InboundDeps,
): Promise<Applied> {
  const { db } = tx;
  if (event.type === 'email.received') return received ? recordInbound(tx, received, deps) : { outcome: 'no received email' };
  const message = await messageOf(db, event.data);
  if (!message) return { outcome: 'no matching message' };
  // The Message-ID the email went out with, when the event reports it and we do not know it yet:
  // a follow-up in its thread replies to it (domain/thread.ts).
  // It replaces ours too when ours was kept only because the provider had not said (yet).
  const reportedId = normaliseMessageId(event.data.message_id);
  const ours = `<${message.id}@${tx.config.INBOUND_DOMAIN}>`;
  if (reportedId && message.rfcMessageId !== reportedId && (!message.rfcMessageId || message.rfcMessageId === ours)) {
    await db
      .update(messages)
      .set({ rfcMessageId: reportedId })
      .where(and(eq(messages.id, message.id), or(isNull(messages.rfcMessageId), eq(messages.rfcMessageId, ours))));
  }
  const when = event.created_at ? new Date(event.created_at) : new Date();
  const at = sql`${(Number.isNaN(when.getTime()) ? new Date() : when).toISOString()}::timestamptz`;
  const timeline = async (type: string, detail: Record<string, unknown> = {}) => {
    if (message.enrolmentId) {
      await db.insert(enrolmentEvents).values({
        accountId: message.accountId,
        enrolmentId: message.enrolmentId,
        type,
        detail: storableJson({ messageId: message.id, ...detail }) as Record<string, unknown>,
      });
    }
  };
  switch (event.type) {
    case 'email.sent':
      await db
        .update(messages)
        .set({ sentAt: sql`coalesce(${messages.sentAt}, ${at})` })
        .where(eq(messages.id, message.id));
      return { outcome: 'sent recorded' };
    case 'email.delivered':
      await db
        .update(messages)
        .set({
          deliveredAt: sql`coalesce(${messages.deliveredAt}, ${at})`,
          status: sql`case when ${messages.status} = 'sent' then 'delivered' else ${messages.status} end`,
        })
        .where(eq(messages.id, message.id));
      await timeline('email_delivered');
      return { outcome: 'delivered recorded' };
    case 'email.delivery_delayed':
      await timeline('email_delayed');
      return { outcome: 'delay recorded' };
    case 'email.opened':
      await db
        .update(messages)
        .set({ openCount: sql`${messages.openCount} + 1`, firstOpenedAt: sql`coalesce(${messages.firstOpenedAt}, ${at})` })
        .where(eq(messages.id, message.id));
      return { outcome: 'open recorded' };
    case 'email.clicked':
      await db
        .update(messages)
        .set({ clickCount: sql`${messages.clickCount} + 1`, firstClickedAt: sql`coalesce(${messages.firstClickedAt}, ${at})` })
        .where(eq(messages.id, message.id));
      await timeline('email_clicked', { link: event.data.click?.link });
      return { outcome: 'click recorded' };
    case 'email.bounced': {
      const bounce = event.data.bounce ?? {};
      if (bounce.type === 'Permanent') {
        await db
          .update(messages)
          .set({ status: 'bounced', bouncedAt: sql`coalesce(${messages.bouncedAt}, ${at})` })
          .where(eq(messages.id, message.id));
        await timeline('email_bounced', { bounce });
        // The lead's suppression signals workflows and the portal: after the commit (idempotent).
        const reason = `${bounce.subType ?? 'hard'} bounce: ${bounce.message ?? ''}`.trim();
        return {
          outcome: 'hard bounce: lead suppressed',
          after: async () => {
            await bounceLead(deps, message.leadId, reason, { messageId: message.id });
            await guardDeliverability(deps, message.id);
          },
        };
      }
      await timeline('email_soft_bounced', { bounce });
      return { outcome: 'soft bounce recorded' };
    }
    case 'email.suppressed':
      // Resend refused to deliver to an address on its suppression list: as good as a hard bounce.
      await db
        .update(messages)
        .set({ status: 'bounced', bouncedAt: sql`coalesce(${messages.bouncedAt}, ${at})` })
        .where(eq(messages.id, message.id));
      await timeline('email_suppressed');
      return {
        outcome: 'suppressed: lead suppressed',
        after: async () => {
          await bounceLead(deps, message.leadId, 'the provider suppressed the address', { messageId: message.id });
          await guardDeliverability(deps, message.id);
        },
      };
    case 'email.complained':
      await db
        .update(messages)
        .set({ complainedAt: sql`coalesce(${messages.complainedAt}, ${at})` })
        .where(eq(messages.id, message.id));
      await timeline('email_complained');
      return {
        outcome: 'complaint: lead unsubscribed',
        after: async () => {
          await unsubscribeLead(deps, message.leadId, 'spam complaint', {}, { messageId: message.id });
          await guardDeliverability(deps, message.id);
        },
      };
    case 'email.failed':
      await db
        .update(messages)
        .set({ status: 'failed', failureReason: storableLine(String(event.data.failed?.reason ?? 'failed at the provider'), 2_000) })
        .where(eq(messages.id, message.id));
      await timeline('email_failed', { reason: event.data.failed?.reason });
      return { outcome: 'failure recorded' };
    default:
      return { outcome: 'ignored' };
  }
}

/**
 * `email.received` carries no body or headers: fetch them from Resend. A failure to fetch is the
 * provider's (503: Resend delivers the event again); what the email holds never fails it.
 */
async function fetchReceived(deps: InboundDeps, data: EmailEventData): Promise<InboundEmail> {
  const resend = new Resend(deps.config.RESEND_API_KEY, deps.config.RESEND_BASE_URL ? { baseUrl: deps.config.RESEND_BASE_URL } : undefined);
  const { data: email, error } = await resend.emails.receiving.get(storableLine(String(data.email_id), INBOUND_LIMITS.providerId));
  if (!email)
    throw new ApiError(
      503,
      'received_email_unavailable',
      `Could not fetch the received email from Resend: ${error?.message ?? 'no answer'}`,
    );
  return cleanInboundEmail({
    providerId: email.id,
    from: email.from,
    to: [...(email.to ?? []), ...(email.received_for ?? []), ...(email.cc ?? [])],
    subject: email.subject,
    text: email.text,
    headers: email.headers,
  });
}

/**
 * An email to one of our addresses, from raw MIME or Resend: recorded in one transaction, then
 * its side effects (see recordInbound), after which the row is marked processed. The same email
 * again (same provider id, same account) records nothing, and runs the side effects only if the
 * first delivery did not finish them (see repeatedInbound): a provider retrying after a crash or
 * a failure between the two loses nothing (503 within the lease, so it retries; after it, the side
 * effects run), and one retrying while the first is at work repeats nothing.
 */
export async function handleInboundEmail(deps: InboundDeps, email: InboundEmail): Promise<string> {
  const clean = cleanInboundEmail(email);
  const applied = await deps.db.transaction((tx) => recordInbound({ ...deps, db: tx as unknown as Db }, clean, deps));
  await applied.after?.();
  return applied.outcome;
}

/**
 * Records an inbound email through `tx`: an unsubscribe by mail, or an email to a reply address
 * (matched by its reply address, else by In-Reply-To/References), classified (a reply, an
 * out-of-office, an automatic reply, an unsubscribe request, a delivery notice, someone else:
 * domain/reply-classification.ts) with the action its class and writer call for
 * (domain/inbound-policy.ts). Who wrote decides what a reply does (docs/concepts.md, "What each
 * class does"): the lead or someone at the lead's company applies the sequence's onReply; anyone
 * else is recorded, notified and flagged, and changes nothing. Whether the From is the sender's
 * (the receiving server's Authentication-Results, `sender_authenticated`) decides whether the
 * lead's colleagues hear of it. A reply is written before the workflow hears of it, so a send
 * racing it holds.
 */
async function recordInbound(tx: InboundDeps, email: InboundEmail, deps: InboundDeps): Promise<Applied> {
  const { db, config } = tx;
  const unsubscribeToken = unsubscribeTokenFromMailto(email.to, email.subject, config.INBOUND_DOMAIN);
  if (unsubscribeToken) {
    const messageId = verifyUnsubscribeToken(config.UNSUBSCRIBE_SECRET, unsubscribeToken);
    const [message] = messageId ? await db.select().from(messages).where(eq(messages.id, messageId)) : [];
    if (!message) return { outcome: 'unsubscribe email with an invalid token' };
    return { outcome: 'unsubscribed by email', after: async () => void (await unsubscribeLead(deps, message.leadId, 'mailto')) };
  }

  // A copy of one of our own emails (a follow-up in the thread names our previous email, and a
  // copy of it forwarded or bounced back to the reply address would read as the lead's reply): its
  // Message-ID is one we sent it with, or the one the provider gave it.
  const ownCopy = await ourOwnEmail(db, email.headers, config.INBOUND_DOMAIN);
  if (ownCopy) return { outcome: 'a copy of our own email: not a reply' };

  let enrolmentId: string | null = null;
  let messageId: string | null = null;
  let accountId: string | null = null;
  let leadId: string | null = null;
  const token = replyTokenFrom(email.to, config.INBOUND_DOMAIN);
  // Reply tokens are base64url: anything else names no enrolment (and is not sent to the database).
  if (token && /^[A-Za-z0-9_-]{1,100}$/.test(token)) {
    const [enrolment] = await db.select().from(enrolments).where(eq(enrolments.replyToken, token));
    if (enrolment) ({ id: enrolmentId, accountId, leadId } = enrolment);
    else {
      const [message] = await db.select().from(messages).where(eq(messages.replyToken, token));
      if (message) ({ id: messageId, accountId, leadId } = message);
    }
  }
  if (!accountId) {
    const [referenced] = referencedMessageIds(email.headers, config.INBOUND_DOMAIN);
    const [message] = referenced ? await db.select().from(messages).where(eq(messages.id, referenced)) : [];
    if (message) ({ id: messageId, accountId, leadId, enrolmentId } = message);
  }
  if (!accountId) {
    // The provider's Message-ID, which replaced ours (SES does): a reply names that one.
    const named = referencedIds(email.headers).slice(0, 20);
    const [message] = named.length
      ? await db.select().from(messages).where(inArray(messages.rfcMessageId, named)).orderBy(desc(messages.createdAt)).limit(1)
      : [];
    if (message) ({ id: messageId, accountId, leadId, enrolmentId } = message);
  }
  if (!accountId) {
    tx.logger.warn({ from: email.from }, 'inbound email matched no enrolment');
    return { outcome: 'no matching enrolment' };
  }

  const [lead] = leadId ? await db.select().from(leads).where(eq(leads.id, leadId)) : [];
  // Written by one of the account's own senders (a rep answering from their mailbox with the reply
  // address in copy, or a copy of our email with a new Message-ID): never the lead's reply, unless
  // the lead is that very address.
  const from = senderAddress(email.from);
  if (from && from !== lead?.email?.toLowerCase()) {
    const [own] = await db
      .select({ id: senders.id })
      .from(senders)
      .where(and(eq(senders.accountId, accountId), sql`lower(${senders.email}) = ${from}`))
      .limit(1);
    if (own || from === senderAddress(config.PLATFORM_FROM_EMAIL)) return { outcome: 'from one of the account’s own senders: not a reply' };
  }
  const [context] = await db
    .select({
      timezone: accounts.timezone,
      outOfOfficeDays: sequences.outOfOfficeDays,
      sequenceName: sequences.name,
      onColleagueReply: sequences.onColleagueReply,
      status: enrolments.status,
      pausedUntil: enrolments.pausedUntil,
    })
    .from(accounts)
    .leftJoin(enrolments, enrolmentId ? eq(enrolments.id, enrolmentId) : sql`false`)
    .leftJoin(sequences, eq(sequences.id, enrolments.sequenceId))
    .where(eq(accounts.id, accountId));
  // The rep whose email it answers, as the forward finds them (db/senders.ts).
  const owner = await replyOwner(db, { accountId, messageId, enrolmentId });
  const zone = lead?.timezone ?? context?.timezone ?? 'UTC';
  const receivedAt = new Date();
  const sender = senderRelation(email.from, lead?.email);
  const authenticated = senderAuthenticated(email.headers, email.from, config.INBOUND_AUTHSERV_IDS);
  const classified = classifyInbound({ ...email, leadEmail: lead?.email, receivedAt, timeZone: zone });
  const action = actionFor(classified.class, sender, context?.status ? { status: context.status, pausedUntil: context.pausedUntil } : null);
  const resumesAt =
    action === 'wait_for_return'
      ? outOfOfficeUntil({
          returnDate: classified.returnDate,
          receivedAt,
          timeZone: zone,
          defaultDays: context?.outOfOfficeDays ?? DEFAULT_OUT_OF_OFFICE_DAYS,
        })
      : null;
  const [inbound] = await db
    .insert(inboundMessages)
    .values({
      accountId,
      enrolmentId,
      leadId,
      messageId,
      providerId: email.providerId,
      fromEmail: email.from,
      subject: email.subject,
      text: email.text,
      isAutoReply: isMachineClass(classified.class),
      sender,
      senderAuthenticated: authenticated,
      classification: classified.class,
      evidence: classified.evidence,
      returnDate: classified.returnDate ?? null,
      action,
      resumesAt,
      receivedAt,
    })
    .onConflictDoNothing()
    .returning();
  if (!inbound) return repeatedInbound(tx, accountId, email.providerId, deps);

  const leadName = [lead?.firstName, lead?.lastName].filter(Boolean).join(' ') || lead?.email || 'the lead';
  const writer = inbound.fromEmail || 'someone without a From address';
  const where = context?.sequenceName ? `sequence "${context.sequenceName}"` : 'email';
  const readAs = `Read as ${CLASS_WORDS[classified.class]} (${classified.evidence.kind}: ${classified.evidence.matched}); ${describeAction(action, resumesAt ? { at: resumesAt, zone } : null)}.`;
  const classDetail = { class: classified.class, evidence: classified.evidence, action };
  // A reply that would reach the lead's colleagues but whose From nobody vouches for reaches only
  // the lead's own enrolment (tellColleagues), and says so.
  const colleaguesNotTold =
    action === 'on_reply' &&
    sender !== 'other' &&
    enrolmentId &&
    context?.onColleagueReply &&
    context.onColleagueReply !== 'nothing' &&
    lead &&
    companyKeyOf(lead) &&
    authenticated !== true
      ? COLLEAGUES_NOT_TOLD[authenticated === null ? 'unchecked' : 'unverified']
      : null;
  // The notification names whose email it answers: in an account of many reps, who should act.
  const repName = owner ? storableLine(owner.name || owner.email || '', 100) : '';
  const notify = (type: NotificationType, title: string) =>
    db.insert(notifications).values({
      accountId,
      type,
      enrolmentId,
      leadId,
      senderId: owner?.id ?? null,
      title: storableLine(repName ? `${title} (to ${repName})` : title, 500),
      body: `${readAs}${colleaguesNotTold ? ` ${colleaguesNotTold}` : ''}\n\n${inbound.subject}\n\n${storableText(inbound.text, 500)}`,
    });
  const onTimeline = async (type: EnrolmentEventType, detail: Record<string, unknown>) => {
    if (enrolmentId)
      await db
        .insert(enrolmentEvents)
        .values({ accountId, enrolmentId, type, detail: { inboundId: inbound.id, ...detail, ...classDetail } });
  };

  switch (classified.class) {
    case 'out_of_office':
      await onTimeline('out_of_office', {
        subject: email.subject,
        from: email.from,
        sender,
        ...(classified.returnDate ? { returnDate: classified.returnDate } : {}),
        ...(resumesAt ? { until: resumesAt.toISOString() } : {}),
      });
      await notify(
        'out_of_office',
        sender === 'lead' ? `${leadName} is out of office` : `${writer} (at ${leadName}'s domain) is out of office`,
      );
      return { outcome: 'out-of-office recorded', after: () => processInbound(deps, inbound) };
    case 'auto_reply':
      // Ticket systems and "we got your message": on the timeline and to the portal, but no
      // notification, which would be noise for every sequence that reaches a help desk.
      await onTimeline('auto_reply', { subject: email.subject, from: email.from, sender });
      return { outcome: 'auto-reply recorded', after: () => processInbound(deps, inbound) };
    case 'bounce_notice':
      await onTimeline('bounce_notice', { subject: email.subject, from: email.from });
      await notify('bounce_notice', `A delivery notice about ${leadName}'s ${where}`);
      return { outcome: 'bounce notice recorded', after: () => processInbound(deps, inbound) };
    case 'from_other_address':
      await onTimeline('reply_from_other_address', { from: inbound.fromEmail, subject: inbound.subject });
      await notify('reply_from_other_address', `${writer} wrote to the reply address of ${leadName}'s ${where}`);
      return { outcome: 'reply from another address recorded', after: () => processInbound(deps, inbound) };
    case 'unsubscribe_request':
      if (action === 'unsubscribe_lead') {
        await onTimeline('unsubscribe_request', { subject: email.subject, from: email.from });
        await notify('unsubscribe_request', `${leadName} asked to be removed`);
        return { outcome: 'unsubscribe request: lead unsubscribed', after: () => processInbound(deps, inbound) };
      }
      break; // a colleague asking: a reply
    case 'reply':
      break;
  }

  if (enrolmentId)
    await recordReplyRow(db, accountId, enrolmentId, {
      source: 'email',
      inboundId: inbound.id,
      ...(sender === 'lead_domain' ? { from: inbound.fromEmail, sender } : {}),
      ...classDetail,
      ...(colleaguesNotTold ? { colleaguesNotTold } : {}),
    });
  await notify('reply', sender === 'lead' ? `${leadName} replied` : `${inbound.fromEmail} (at ${leadName}'s domain) replied`);
  return { outcome: 'reply recorded', after: () => processInbound(deps, inbound) };
}

/**
 * A redelivery of an email this account has (the same provider id: the sender's Message-ID for
 * raw MIME, Resend's id otherwise). The index is per account, so the same Message-ID addressed to
 * another account's reply address is that account's own row, with its own side effects; this
 * one runs only this account's. Its side effects run again only while `processed_at` is null
 * (the first delivery died or failed between its commit and their end) and UNFINISHED_EVENT_LEASE_MS
 * after the email arrived, as for webhook events; within the lease a redelivery (racing a first
 * delivery still at work, or a provider's quick retry of one that failed) runs nothing and is
 * answered 503 `inbound_in_progress`, so the provider delivers it again. Two redeliveries after the lease may both run them, which is harmless: each is
 * idempotent (signals guarded by the enrolment's state, workflow ids once per email, the forward's
 * provider idempotency key, portal events keyed by id).
 */
async function repeatedInbound(tx: InboundDeps, accountId: string, providerId: string | null, deps: InboundDeps): Promise<Applied> {
  const [first] = providerId
    ? await tx.db
        .select()
        .from(inboundMessages)
        .where(and(eq(inboundMessages.accountId, accountId), eq(inboundMessages.providerId, providerId)))
    : [];
  if (!first || first.processedAt) return { outcome: 'already received' };
  // Not finished, and the first delivery may still be at work on it or have failed moments ago:
  // a 200 would end the provider's retries, and nothing would run the side effects (inProgress).
  if (Date.now() - first.receivedAt.getTime() <= UNFINISHED_EVENT_LEASE_MS) throw inProgress('This email');
  tx.logger.warn({ inboundId: first.id }, 'inbound email left unprocessed: running its side effects again');
  return { outcome: 'already received', after: () => processInbound(deps, first) };
}

/** The side effects of an inbound email, then the mark that they are done. */
async function processInbound(deps: InboundDeps, inbound: typeof inboundMessages.$inferSelect): Promise<void> {
  await afterInbound(deps, inbound);
  await deps.db.update(inboundMessages).set({ processedAt: new Date() }).where(eq(inboundMessages.id, inbound.id));
}

/** Why a reply from the lead's company reached only the lead's enrolment, for its notification and timeline. */
const COLLEAGUES_NOT_TOLD = {
  unverified: 'Colleagues were not told: the sender could not be verified (no passing DMARC, DKIM or SPF result for the From domain).',
  unchecked: 'Colleagues were not told: the sender could not be verified (no receiving server is trusted to check senders).',
} as const;
const CLASS_WORDS: Record<InboundClass, string> = {
  reply: 'a reply',
  out_of_office: 'an out-of-office reply',
  auto_reply: 'an automatic reply',
  unsubscribe_request: 'a request to be removed',
  bounce_notice: 'a delivery notice from a mail server',
  from_other_address: 'an email from someone other than the lead',
};

/**
 * After an inbound email committed: apply its action outside the database (signal the workflow,
 * unsubscribe the lead), forward what a person wrote to the user, tell the portal. Each is
 * idempotent, so running it twice (a redelivery after a crash) changes nothing.
 */
async function afterInbound(deps: InboundDeps, inbound: typeof inboundMessages.$inferSelect): Promise<void> {
  const { enrolmentId } = inbound;
  switch (inbound.action) {
    case 'on_reply':
      if (inbound.sender !== 'other' && enrolmentId) {
        await signalUnhandledReply(deps, enrolmentId);
        await tellColleagues(deps, inbound);
      }
      break;
    case 'wait_for_return':
      if (enrolmentId && inbound.resumesAt) await signalOutOfOffice(deps, enrolmentId, inbound.resumesAt);
      break;
    case 'unsubscribe_lead':
      if (inbound.leadId) await unsubscribeLead(deps, inbound.leadId, 'reply', { inboundId: inbound.id });
      break;
    case 'record_only':
      break;
  }
  // What a person wrote reaches the user's mailbox; what a machine wrote stays in the portal.
  if (!inbound.isAutoReply) {
    await startReplyForward(deps, inbound.id, `Forward the email from ${inbound.fromEmail || 'an unknown sender'} to the user`);
  }
  const common = {
    enrolmentId,
    leadId: inbound.leadId,
    inboundId: inbound.id,
    from: inbound.fromEmail,
    subject: inbound.subject,
    variant: await variantOfInbound(deps.db, inbound),
  };
  if (inbound.action === 'on_reply' || inbound.classification === 'from_other_address') {
    await notifyPortal(deps, inbound.accountId, 'reply.received', { ...common, sender: inbound.sender }, `reply-${inbound.id}`);
  }
  await notifyPortal(deps, inbound.accountId, 'inbound.classified', { ...common, ...classificationOf(inbound) }, `inbound-${inbound.id}`);
}

/** The class of an inbound email, its evidence and what was done: for the portal and the API. */
export function classificationOf(inbound: typeof inboundMessages.$inferSelect) {
  return {
    class: inbound.classification,
    evidence: inbound.evidence,
    action: inbound.action,
    returnDate: inbound.returnDate,
    resumesAt: inbound.resumesAt?.toISOString() ?? null,
    correctedFrom: inbound.correctedFrom,
    correctedAt: inbound.correctedAt?.toISOString() ?? null,
  };
}

/**
 * A reply from the lead or someone at the lead's company reaches the company's other enrolments
 * when the sequence says so (onColleagueReply pause or stop): through the broadcast workflow, a
 * page at a time, once per inbound email. Only an email whose From the receiving server vouched
 * for (`sender_authenticated`): anyone holding one of our emails can write to its reply address
 * as ceo@acme.test, and a forged From reaches the lead's own enrolment at most, never the company.
 */
export async function tellColleagues(
  deps: InboundDeps,
  inbound: typeof inboundMessages.$inferSelect,
  /** Once per this key: the email on arrival; a correction that makes it a reply again, its own id. */
  once: string = inbound.id,
): Promise<void> {
  if (!inbound.enrolmentId || !inbound.leadId || inbound.senderAuthenticated !== true) return;
  await tellColleaguesOfReply(deps, {
    enrolmentId: inbound.enrolmentId,
    once,
    who: inbound.fromEmail || 'someone at the company',
    inboundId: inbound.id,
  });
}

/**
 * Carries a reply on `enrolmentId` to the lead's colleagues by its sequence's onColleagueReply
 * and colleagueScope, once per `once` (the colleague broadcast's workflow id is REJECT_DUPLICATE:
 * a repeat must not pause colleagues a person resumed since). The company is the lead's
 * (domain/company.ts); free mail has none. `who` replied (the lead's address by default). Also a
 * reply marked through the API (api/services/enrolments.ts), which a user vouches for.
 */
export async function tellColleaguesOfReply(
  deps: Pick<InboundDeps, 'db' | 'temporal' | 'config'>,
  reply: { enrolmentId: string; once: string; who?: string; inboundId?: string },
): Promise<void> {
  const colleagues = await colleaguesOf(deps.db, reply.enrolmentId);
  if (!colleagues) return;
  await startColleagueBroadcast(deps, reply.once, {
    colleaguesOf: colleagues.selection,
    ...(reply.inboundId ? { inboundId: reply.inboundId } : {}),
    signal: colleagues.onColleagueReply,
    reason: colleagueReason(reply.who ?? (colleagues.email || 'someone at the company')),
  });
}

/** Why a colleague's enrolment paused or stopped: who replied. */
const colleagueReason = (who: string) => storableLine(`a colleague replied: ${who}`, 200);

/**
 * Undoes what an email's fan-out paused (a user corrected the reply to something else): the
 * colleagues whose last status change is the pause this email made resume, once per correction
 * (`once`). A stop cannot be undone: those enrolments stay ended. Answers whether there was a
 * pause to undo.
 */
export async function resumeColleaguesPausedBy(
  deps: Pick<InboundDeps, 'db' | 'temporal' | 'config'>,
  inbound: typeof inboundMessages.$inferSelect,
  once: string,
): Promise<boolean> {
  if (!inbound.enrolmentId || inbound.senderAuthenticated !== true) return false;
  const colleagues = await colleaguesOf(deps.db, inbound.enrolmentId);
  if (colleagues?.onColleagueReply !== 'pause') return false;
  await startColleagueBroadcast(deps, once, {
    colleaguesOf: colleagues.selection,
    inboundId: inbound.id,
    signal: 'resume',
    reason: colleagueReason(inbound.fromEmail || 'someone at the company'),
  });
  return true;
}

/** Whom a reply on this enrolment reaches, by its sequence's onColleagueReply and colleagueScope; null for nobody. */
async function colleaguesOf(db: Db, enrolmentId: string) {
  const [row] = await db
    .select({
      onColleagueReply: sequences.onColleagueReply,
      colleagueScope: sequences.colleagueScope,
      sequenceId: sequences.id,
      accountId: enrolments.accountId,
      leadId: enrolments.leadId,
      email: leads.email,
      companyId: leads.companyId,
    })
    .from(enrolments)
    .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
    .innerJoin(leads, eq(leads.id, enrolments.leadId))
    .where(eq(enrolments.id, enrolmentId));
  // The replier's key computed now, not the stored one: leads stored before company keys carry
  // their whole email domain, free mail included, and a free-mail lead has no colleagues.
  const companyKey = row ? companyKeyOf(row) : null;
  if (!row || row.onColleagueReply === 'nothing' || !companyKey) return null;
  const selection: ColleagueSelection = {
    accountId: row.accountId,
    companyKey,
    exceptLeadId: row.leadId,
    ...(row.colleagueScope === 'sequence' ? { sequenceId: row.sequenceId } : {}),
  };
  return { selection, onColleagueReply: row.onColleagueReply, email: row.email };
}

/** Tells a live enrolment the lead is away until `until` (the workflow ignores it unless it would send). */
async function signalOutOfOffice(deps: InboundDeps, enrolmentId: string, until: Date): Promise<void> {
  const [live] = await deps.db
    .select({ id: enrolments.id })
    .from(enrolments)
    .where(and(eq(enrolments.id, enrolmentId), isLiveEnrolment()));
  if (!live || until.getTime() <= Date.now()) return;
  await signalEnrolment(deps, enrolmentId, 'outOfOffice', { until });
}

/**
 * Signals `reply` to an enrolment whose recorded reply is not handled yet (live, replied since its
 * last resume): a second call, or one after the workflow handled it, changes nothing.
 */
async function signalUnhandledReply(deps: InboundDeps, enrolmentId: string): Promise<void> {
  const [pending] = await deps.db
    .select({ id: enrolments.id })
    .from(enrolments)
    .where(and(eq(enrolments.id, enrolmentId), isLiveEnrolment(), replyUnhandledSql()));
  if (!pending) return;
  await signalEnrolment(deps, enrolmentId, 'reply');
}
