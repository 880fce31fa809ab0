import { and, count, eq, gte } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { enrolmentEvents, enrolments, messages, type EnrolmentStatus } from '../db/schema.js';
import { sendBlocker } from '../domain/enrolment-rules.js';
import { renderTemplate } from '../domain/merge-fields.js';
import { startOfDay, startOfNextDay } from '../domain/schedule.js';
import type { Logger } from '../logger.js';
import { loadEnrolmentContext, mergeContextOf } from './enrolment-context.js';
import type { Mailer } from './mailer.js';

export type SendOutcome =
  | { outcome: 'sent'; messageId: string; sentAt: string }
  | { outcome: 'postponed'; until: string; reason: string }
  | { outcome: 'not_sendable'; status: EnrolmentStatus | null; reason: string }
  | { outcome: 'failed'; reason: string };

/** enrolment + step: the same key for every retry of this send, at the provider and in our table. */
export const stepIdempotencyKey = (enrolmentId: string, stepId: string) => `enrolment-${enrolmentId}-step-${stepId}`;

export function createSendStep({ db, mailer, config, logger }: { db: Db; mailer: Mailer; config: Config; logger: Logger }) {
  return async function sendStep({
    enrolmentId,
    stepId,
    now,
  }: {
    enrolmentId: string;
    stepId: string;
    /** The workflow's clock: which day a daily cap counts. */
    now: string;
  }): Promise<SendOutcome> {
    const key = stepIdempotencyKey(enrolmentId, stepId);

    // Phase 1, under the enrolment's row lock: decide, render and store the email as it will go.
    const decided = await db.transaction(async (tx): Promise<{ outcome: SendOutcome } | { message: typeof messages.$inferSelect }> => {
      const [existing] = await tx.select().from(messages).where(eq(messages.idempotencyKey, key));
      if (existing) return { message: existing };
      const ctx = await loadEnrolmentContext(tx as unknown as Db, enrolmentId, { lock: true });
      if (!ctx) return { outcome: { outcome: 'not_sendable', status: 'failed', reason: 'the enrolment no longer exists' } };
      const { enrolment, lead, sequence, account } = ctx;
      const blocker = sendBlocker({
        enrolmentStatus: enrolment.status,
        sequenceStatus: sequence.status,
        onReply: sequence.onReply,
        leadEmail: lead.email,
        leadUnsubscribedAt: lead.unsubscribedAt,
        leadBouncedAt: lead.bouncedAt,
        repliedAt: enrolment.repliedAt,
        resumedAt: enrolment.resumedAt,
      });
      if (blocker) return { outcome: { outcome: 'not_sendable', status: blocker.status, reason: blocker.reason } };
      // The step the workflow planned may have been deleted or reordered since: plan again.
      if (ctx.next?.id !== stepId) {
        return { outcome: { outcome: 'not_sendable', status: null, reason: 'the next step changed' } };
      }
      const cap = account.limits.maxEmailsPerDay;
      if (cap !== null) {
        const zone = account.timezone;
        const [sentToday] = await tx
          .select({ n: count() })
          .from(messages)
          .where(and(eq(messages.accountId, account.id), gte(messages.createdAt, startOfDay(new Date(now), zone))));
        if ((sentToday?.n ?? 0) >= cap) {
          return {
            outcome: {
              outcome: 'postponed',
              until: startOfNextDay(new Date(now), zone).toISOString(),
              reason: `daily cap of ${cap} emails reached`,
            }
          };
        }
      }
      const merge = mergeContextOf(lead, account);
      const step = ctx.next;
      const [message] = await tx
        .insert(messages)
        .values({
          accountId: account.id,
          enrolmentId,
          stepId,
          leadId: lead.id,
          idempotencyKey: key,
          toEmail: lead.email!,
          fromEmail: `${account.senderName || account.name} <${config.PLATFORM_FROM_EMAIL}>`,
          replyTo: `r-${enrolment.replyToken}@${config.INBOUND_DOMAIN}`,
          subject: renderTemplate(step.subject, merge),
          html: `<p>${renderTemplate(step.body, merge, { escapeHtml: true }).replace(/\n/g, '<br>')}</p>`,
          text: renderTemplate(step.body, merge),
          status: 'sending',
        })
        .returning();
      return { message: message! };
    });
    if ('outcome' in decided) return decided.outcome;
    const message = decided.message;
    if (message.status === 'sent' && message.sentAt) {
      return { outcome: 'sent', messageId: message.id, sentAt: message.sentAt.toISOString() };
    }

    // Phase 2: hand it to the provider with the same key on every attempt, then record it.
    const { providerId } = await mailer.send({
      idempotencyKey: key,
      from: message.fromEmail,
      to: message.toEmail,
      replyTo: message.replyTo ?? undefined,
      subject: message.subject,
      html: message.html,
      text: message.text,
    });
    const sentAt = new Date();
    await db.transaction(async (tx) => {
      await tx.update(messages).set({ status: 'sent', providerId, sentAt }).where(eq(messages.id, message.id));
      await tx
        .update(enrolments)
        .set({ lastStepId: stepId, lastSentAt: sentAt, updatedAt: sentAt })
        .where(eq(enrolments.id, enrolmentId));
      await tx.insert(enrolmentEvents).values({
        accountId: message.accountId,
        enrolmentId,
        type: 'email_sent',
        detail: { stepId, messageId: message.id, subject: message.subject },
      });
    });
    logger.info({ enrolmentId, stepId, messageId: message.id }, 'email sent');
    return { outcome: 'sent', messageId: message.id, sentAt: sentAt.toISOString() };
  };
}
