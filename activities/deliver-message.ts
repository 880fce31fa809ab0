import { ApplicationFailure } from '@temporalio/activity';
import { eq, sql, type SQL } from 'drizzle-orm';
import { executeNamed, type Db } from '../db/client.js';
import { messages } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { emailsFailed, emailsSent } from '../metrics.js';
import { SendPostponed, SendRejected, SendRetryLater, type Mailer } from './mailer.js';

export type Message = typeof messages.$inferSelect;

export type DeliveryResult =
  | { delivered: true; providerId: string; sentAt: Date; answer?: Record<string, unknown> }
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
     * the same statement as the message's own: a crash or a lost database between them would
     * otherwise leave a sent message whose retry returns early and never writes them. Each is a
     * data-modifying statement, named as a CTE, that reads the CTE `sent` (the message's row, `id`
     * and `variant_id`, present only when this attempt is the one that marked it sent).
     */
    alsoWhenSent?: (sentAt: Date) => Record<string, SQL>;
    /** What the statement answers (`answer` in the result): a select list over those CTEs. */
    answer?: SQL;
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
    // One statement, so one round trip and atomic without a transaction. Two attempts of one send
    // can overlap (a first one stuck on a dead connection past its timeout while the retry runs):
    // the message's row lock makes the second wait, and it finds the message already sent, so the
    // writes that go with "sent" happen once.
    const also = Object.entries(options.alsoWhenSent?.(sentAt) ?? {});
    // Named: PostgreSQL plans each shape of it once per connection.
    const rows = await executeNamed<Record<string, unknown>>(
      deps.db,
      sql`
      with sent as (
        update messages set status = 'sent', provider_id = ${providerId}, sent_at = ${sentAt.toISOString()}::timestamptz
        where id = ${message.id} and status <> 'sent'
        returning id, variant_id
      )${sql.join(
        also.map(([name, statement]) => sql`, ${sql.identifier(name)} as (${statement})`),
        sql``,
      )}
      select ${options.answer ?? sql`count(*) as n from sent`}`,
    );
    return { delivered: true, providerId, sentAt, ...(options.answer ? { answer: rows[0] ?? {} } : {}) };
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
