import { and, desc, eq, isNull, or, sql } from 'drizzle-orm';
import type { SenderRow } from './accounts.js';
import type { Db, Transaction } from './client.js';
import { accounts, enrolments, messages, senders } from './schema.js';

/**
 * Whose reply an inbound email is (who gets its forward, and whom its notification names): the
 * sender of the email it answers, else of its enrolment; when that sender is retired (or there is
 * none), the account's default sender; null when neither is a live sender of the account. A rep
 * who left never receives a lead's reply.
 */
export async function replyOwner(
  db: Db | Transaction,
  of: { accountId: string; messageId: string | null; enrolmentId: string | null },
): Promise<SenderRow | null> {
  const bound = sql`coalesce(
    (select ${messages.senderId} from ${messages} where ${messages.id} = ${of.messageId} and ${messages.accountId} = ${of.accountId}),
    (select ${enrolments.senderId} from ${enrolments} where ${enrolments.id} = ${of.enrolmentId} and ${enrolments.accountId} = ${of.accountId}))`;
  const byDefault = sql`(select ${accounts.defaultSenderId} from ${accounts} where ${accounts.id} = ${of.accountId})`;
  const [owner] = await db
    .select({ sender: senders })
    .from(senders)
    .where(and(eq(senders.accountId, of.accountId), isNull(senders.retiredAt), or(eq(senders.id, bound), eq(senders.id, byDefault))))
    .orderBy(desc(sql`${senders.id} = ${bound}`))
    .limit(1);
  return owner?.sender ?? null;
}
