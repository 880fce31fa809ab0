import { and, eq, gte, ne, sql } from 'drizzle-orm';
import { rowsOf, type Db } from './client.js';
import { messages, testEmails } from './schema.js';

/**
 * Emails of one account since `since` that count against its daily cap: every message to a lead
 * (steps and one-offs) not refused by the provider, and every test copy and address confirmation.
 *
 * Call it in the transaction that then stores the email: it first takes the account's cap lock
 * (a transaction-scoped advisory lock), so two sends of one account counting at once cannot both
 * take the last email of the day; the second counts after the first has committed.
 */
export async function emailsSentSince(db: Db, accountId: string, since: Date): Promise<number> {
  await db.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`daily-cap:${accountId}`}, 0))`);
  const toLeads = db
    .select({ n: sql<number>`count(*)` })
    .from(messages)
    // Every email that went or may have gone: sending, sent, and what the provider reported on it
    // since (delivered, bounced). Only a refused one ('failed') gives its place back.
    .where(and(eq(messages.accountId, accountId), gte(messages.createdAt, since), ne(messages.status, 'failed')));
  const toAccount = db
    .select({ n: sql<number>`count(*)` })
    .from(testEmails)
    .where(and(eq(testEmails.accountId, accountId), gte(testEmails.createdAt, since)));
  const [row] = rowsOf<{ n: string | number }>(await db.execute(sql`select (${toLeads}) + (${toAccount}) as n`));
  return Number(row?.n ?? 0);
}
