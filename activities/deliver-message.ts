import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, ne } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { messages } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { emailsFailed, emailsSent } from '../metrics.js';
import { SendPostponed, SendRejected, SendRetryLater, type Mailer } from './mailer.js';

export type Message = typeof messages.$inferSelect;

export type DeliveryResult =
  | { delivered: true; providerId: string; sentAt: Date }
  | { delivered: false; postponedUntil: Date; reason: string }
  | { delivered: false; rejected: string };

/**
 * Hands a stored message to the provider with the message's idempotency key, then records the
 * provider's id. The message row was written before this call, so a crash between the provider
 * accepting and our write is repaired by the retry: same key, same bytes, no second email.
 */
export async function deliverMessage(
  deps: { db: Db; mailer: Mailer; logger: Logger },
  message: Message,
  options: {
    /**
     * Writes that belong with "sent" (the enrolment's last step, its timeline event), made in
     * the same transaction: a crash or a lost database between them would otherwise leave a
     * sent message whose retry returns early and never writes them.
     */
    recordSent?: (tx: Db, sentAt: Date) => Promise<void>;
  } = {},
): Promise<DeliveryResult> {
  try {
    const { providerId } = await deps.mailer.send({
      idempotencyKey: message.idempotencyKey,
      from: message.fromEmail,
      to: message.toEmail,
      replyTo: message.replyTo ?? undefined,
      subject: message.subject,
      html: message.html,
      text: message.text,
      headers: message.headers,
      tags: message.tags,
    });
    emailsSent.inc({ kind: message.enrolmentId ? 'step' : 'one_off' });
    const sentAt = new Date();
    await deps.db.transaction(async (tx) => {
      // Two attempts of one send can overlap (a first one stuck on a dead connection past its
      // timeout while the retry runs): the row lock makes the second wait, and it finds the
      // message already sent, so the writes that go with "sent" happen once.
      const updated = await tx
        .update(messages)
        .set({ status: 'sent', providerId, sentAt })
        .where(and(eq(messages.id, message.id), ne(messages.status, 'sent')))
        .returning({ id: messages.id });
      if (updated.length) await options.recordSent?.(tx as unknown as Db, sentAt);
    });
    return { delivered: true, providerId, sentAt };
  } catch (error) {
    emailsFailed.inc({ reason: error instanceof SendPostponed ? 'postponed' : error instanceof SendRejected ? 'rejected' : 'retry' });
    if (error instanceof SendPostponed) return { delivered: false, postponedUntil: error.until, reason: error.message };
    if (error instanceof SendRejected) {
      await deps.db.update(messages).set({ status: 'failed', failureReason: error.message }).where(eq(messages.id, message.id));
      return { delivered: false, rejected: error.message };
    }
    if (error instanceof SendRetryLater) {
      throw ApplicationFailure.create({
        type: 'ProviderUnavailable',
        message: error.message,
        nextRetryDelay: error.retryAfterMs !== undefined ? Math.max(1_000, error.retryAfterMs) : undefined,
      });
    }
    throw error;
  }
}
