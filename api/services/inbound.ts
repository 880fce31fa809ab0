import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, eq, or, sql } from 'drizzle-orm';
import { Resend } from 'resend';
import { notifyPortal } from '../../activities/portal-webhook.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { enrolmentEvents, enrolments, inboundMessages, leads, messages, notifications } from '../../db/schema.js';
import { isAutoReply, referencedMessageIds, replyTokenFrom, unsubscribeTokenFromMailto } from '../../domain/inbound.js';
import { verifyUnsubscribeToken } from '../../domain/unsubscribe-token.js';
import type { Logger } from '../../logger.js';
import { enrolmentWorkflowId } from '../../workflows/ids.js';
import { bounceLead, unsubscribeLead } from './suppression.js';

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

const MAX_STORED_TEXT = 50_000;
const addressOf = (value: string) => (/<([^>]+)>/.exec(value)?.[1] ?? value).trim().toLowerCase();

/** The parts of Resend's event payloads we read; everything else is kept as received. */
export interface EmailEventData {
  email_id?: string;
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
    ...(tagged && /^[0-9a-f-]{36}$/.test(tagged) ? [eq(messages.id, tagged)] : []),
    ...(typeof data.email_id === 'string' ? [eq(messages.providerId, data.email_id)] : []),
  ];
  if (!conditions.length) return undefined;
  const [message] = await db.select().from(messages).where(or(...conditions)).limit(1);
  return message;
}

/**
 * Applies one provider event. Each changes only what it describes; counts go up once per event
 * id because the caller records the id in the same transaction (see routes/webhooks.ts).
 */
export async function applyEmailEvent(deps: InboundDeps, event: EmailEvent): Promise<string> {
  const { db } = deps;
  if (event.type === 'email.received') return receiveFromResend(deps, event.data);
  const message = await messageOf(db, event.data);
  if (!message) return 'no matching message';
  const when = event.created_at ? new Date(event.created_at) : new Date();
  const at = sql`${(Number.isNaN(when.getTime()) ? new Date() : when).toISOString()}::timestamptz`;
  const timeline = async (type: string, detail: Record<string, unknown> = {}) => {
    if (message.enrolmentId) {
      await db.insert(enrolmentEvents).values({ accountId: message.accountId, enrolmentId: message.enrolmentId, type, detail: { messageId: message.id, ...detail } });
    }
  };
  switch (event.type) {
    case 'email.sent':
      await db.update(messages).set({ sentAt: sql`coalesce(${messages.sentAt}, ${at})` }).where(eq(messages.id, message.id));
      return 'sent recorded';
    case 'email.delivered':
      await db
        .update(messages)
        .set({ deliveredAt: sql`coalesce(${messages.deliveredAt}, ${at})`, status: sql`case when ${messages.status} = 'sent' then 'delivered' else ${messages.status} end` })
        .where(eq(messages.id, message.id));
      await timeline('email_delivered');
      return 'delivered recorded';
    case 'email.delivery_delayed':
      await timeline('email_delayed');
      return 'delay recorded';
    case 'email.opened':
      await db
        .update(messages)
        .set({ openCount: sql`${messages.openCount} + 1`, firstOpenedAt: sql`coalesce(${messages.firstOpenedAt}, ${at})` })
        .where(eq(messages.id, message.id));
      return 'open recorded';
    case 'email.clicked':
      await db
        .update(messages)
        .set({ clickCount: sql`${messages.clickCount} + 1`, firstClickedAt: sql`coalesce(${messages.firstClickedAt}, ${at})` })
        .where(eq(messages.id, message.id));
      await timeline('email_clicked', { link: event.data.click?.link });
      return 'click recorded';
    case 'email.bounced': {
      const bounce = event.data.bounce ?? {};
      if (bounce.type === 'Permanent') {
        await db.update(messages).set({ status: 'bounced', bouncedAt: sql`coalesce(${messages.bouncedAt}, ${at})` }).where(eq(messages.id, message.id));
        await timeline('email_bounced', { bounce });
        await bounceLead(deps, message.leadId, `${bounce.subType ?? 'hard'} bounce: ${bounce.message ?? ''}`.trim());
        return 'hard bounce: lead suppressed';
      }
      await timeline('email_soft_bounced', { bounce });
      return 'soft bounce recorded';
    }
    case 'email.suppressed':
      // Resend refused to deliver to an address on its suppression list: as good as a hard bounce.
      await db.update(messages).set({ status: 'bounced', bouncedAt: sql`coalesce(${messages.bouncedAt}, ${at})` }).where(eq(messages.id, message.id));
      await timeline('email_suppressed');
      await bounceLead(deps, message.leadId, 'the provider suppressed the address');
      return 'suppressed: lead suppressed';
    case 'email.complained':
      await timeline('email_complained');
      await unsubscribeLead(deps, message.leadId, 'spam complaint');
      return 'complaint: lead unsubscribed';
    case 'email.failed':
      await db
        .update(messages)
        .set({ status: 'failed', failureReason: String(event.data.failed?.reason ?? 'failed at the provider') })
        .where(eq(messages.id, message.id));
      await timeline('email_failed', { reason: event.data.failed?.reason });
      return 'failure recorded';
    default:
      return 'ignored';
  }
}

/** `email.received` carries no body or headers: fetch them from Resend, then handle the email. */
async function receiveFromResend(deps: InboundDeps, data: EmailEventData): Promise<string> {
  if (!deps.config.RESEND_API_KEY) return 'no RESEND_API_KEY to fetch the received email';
  const resend = new Resend(deps.config.RESEND_API_KEY, deps.config.RESEND_BASE_URL ? { baseUrl: deps.config.RESEND_BASE_URL } : undefined);
  const { data: email, error } = await resend.emails.receiving.get(String(data.email_id));
  if (!email) throw new Error(`could not fetch received email ${data.email_id}: ${error?.message}`);
  return handleInboundEmail(deps, {
    providerId: email.id,
    from: email.from,
    to: [...(email.to ?? []), ...(email.received_for ?? []), ...(email.cc ?? [])],
    subject: email.subject ?? '',
    text: email.text ?? '',
    headers: email.headers ?? {},
  });
}

/**
 * A lead's email to us: an unsubscribe by mail, a reply (matched by its reply address, else by
 * In-Reply-To/References), or an auto-reply (recorded only). A reply is recorded before the
 * workflow hears of it, so a send racing it holds.
 */
export async function handleInboundEmail(deps: InboundDeps, email: InboundEmail): Promise<string> {
  const { db, config } = deps;
  const unsubscribeToken = unsubscribeTokenFromMailto(email.to, email.subject, config.INBOUND_DOMAIN);
  if (unsubscribeToken) {
    const messageId = verifyUnsubscribeToken(config.UNSUBSCRIBE_SECRET, unsubscribeToken);
    const [message] = messageId ? await db.select().from(messages).where(eq(messages.id, messageId)) : [];
    if (!message) return 'unsubscribe email with an invalid token';
    await unsubscribeLead(deps, message.leadId, 'mailto');
    return 'unsubscribed by email';
  }

  let enrolmentId: string | null = null;
  let messageId: string | null = null;
  let accountId: string | null = null;
  let leadId: string | null = null;
  const token = replyTokenFrom(email.to, config.INBOUND_DOMAIN);
  if (token) {
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
    deps.logger.warn({ from: addressOf(email.from) }, 'inbound email matched no enrolment');
    return 'no matching enrolment';
  }

  const autoReply = isAutoReply(email.headers, email.subject);
  const [inbound] = await db
    .insert(inboundMessages)
    .values({
      accountId,
      enrolmentId,
      leadId,
      messageId,
      providerId: email.providerId,
      fromEmail: addressOf(email.from),
      subject: email.subject.slice(0, 998),
      text: email.text.slice(0, MAX_STORED_TEXT),
      isAutoReply: autoReply,
    })
    .onConflictDoNothing()
    .returning();
  if (!inbound) return 'already received';
  if (autoReply) {
    if (enrolmentId) await db.insert(enrolmentEvents).values({ accountId, enrolmentId, type: 'auto_reply', detail: { inboundId: inbound.id, subject: email.subject } });
    return 'auto-reply recorded';
  }

  if (enrolmentId) await markReplied(deps, accountId, enrolmentId, { source: 'email', inboundId: inbound.id });
  const [lead] = leadId ? await db.select().from(leads).where(eq(leads.id, leadId)) : [];
  const who = [lead?.firstName, lead?.lastName].filter(Boolean).join(' ') || inbound.fromEmail;
  await db.insert(notifications).values({
    accountId,
    type: 'reply',
    enrolmentId,
    leadId,
    title: `${who} replied`,
    body: `${email.subject}\n\n${email.text.slice(0, 500)}`,
  });
  await deps.temporal.workflow.start('replyForwardWorkflow', {
    workflowId: `reply-forward-${inbound.id}`,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [{ inboundId: inbound.id }],
    staticSummary: `Forward ${who}'s reply to the user`,
  });
  await notifyPortal(deps, accountId, 'reply.received', { enrolmentId, leadId, inboundId: inbound.id, from: inbound.fromEmail, subject: inbound.subject }, `reply-${inbound.id}`);
  return 'reply recorded';
}

/**
 * Writes a reply to PostgreSQL (once per reply: a second one counts only after a resume). Runs
 * before the workflow is told, so a send racing the reply sees it under its lock and holds.
 */
export async function recordReplyRow(db: Db, accountId: string, enrolmentId: string, detail: Record<string, unknown>) {
  const updated = await db
    .update(enrolments)
    .set({ repliedAt: new Date() })
    .where(and(eq(enrolments.id, enrolmentId), sql`(${enrolments.repliedAt} is null or ${enrolments.resumedAt} > ${enrolments.repliedAt})`))
    .returning({ status: enrolments.status });
  if (updated.length) await db.insert(enrolmentEvents).values({ accountId, enrolmentId, type: 'reply', detail });
  return updated[0]?.status;
}

/** Records the reply in PostgreSQL, then tells the workflow (if it still runs). */
export async function markReplied(deps: InboundDeps, accountId: string, enrolmentId: string, detail: Record<string, unknown>): Promise<void> {
  const status = await recordReplyRow(deps.db, accountId, enrolmentId, detail);
  if (status === 'active' || status === 'paused') {
    try {
      await deps.temporal.workflow.getHandle(enrolmentWorkflowId(enrolmentId)).signal('reply');
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
}
