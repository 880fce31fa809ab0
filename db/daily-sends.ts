import { and, eq, gte, ne, sql } from 'drizzle-orm';
import { rowsOf, type Db, type Transaction } from './client.js';
import { messages, testEmails } from './schema.js';
import type { Sender } from '../domain/sender.js';
import { startOfDay, startOfNextDay } from '../domain/schedule.js';

/**
 * Emails of one account since `since` that count against its daily cap: every message to a lead
 * (steps and one-offs) not refused by the provider, and every test copy and address confirmation.
 *
 * Call it in the transaction that then stores the email: it first takes the account's cap lock
 * (a transaction-scoped advisory lock), so two sends of one account counting at once cannot both
 * take the last email of the day; the second counts after the first has committed.
 */
async function emailsSentSince(db: Db | Transaction, accountId: string, since: Date): Promise<number> {
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

/**
 * Whether the account's daily cap (in its own time zone) is reached at `now`, and when its next
 * day starts. The one check every send path makes (steps, one-offs, test copies, confirmations),
 * in the transaction that then stores the email.
 */
export async function dailyCapReached(
  tx: Db | Transaction,
  account: { id: string; timezone: string; limits: { maxEmailsPerDay: number | null } },
  now: Date,
): Promise<{ cap: number; until: Date } | null> {
  const cap = account.limits.maxEmailsPerDay;
  if (cap === null || (await emailsSentSince(tx, account.id, startOfDay(now, account.timezone))) < cap) return null;
  return { cap, until: startOfNextDay(now, account.timezone) };
}

/**
 * Whether the sender's own daily cap (in their zone, else the account's) is reached at `now`:
 * every email to a lead that went or may have gone as them. Taken under the sender's own lock, in
 * the transaction that then stores the email, like the account's cap.
 */
export async function senderCapReached(
  tx: Db | Transaction,
  sender: Pick<Sender, 'id'> & { dailyCap: number | null; timezone: string | null },
  accountTimezone: string,
  now: Date,
): Promise<{ cap: number; until: Date } | null> {
  const cap = sender.dailyCap;
  if (cap === null) return null;
  const zone = sender.timezone ?? accountTimezone;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`sender-cap:${sender.id}`}, 0))`);
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(messages)
    .where(and(eq(messages.senderId, sender.id), gte(messages.createdAt, startOfDay(now, zone)), ne(messages.status, 'failed')));
  return (row?.n ?? 0) < cap ? null : { cap, until: startOfNextDay(now, zone) };
}
