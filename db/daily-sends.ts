import { and, eq, gte, ne, sql } from 'drizzle-orm';
import { rowsOf, type Db, type Transaction } from './client.js';
import { enrolments, messages, testEmails } from './schema.js';
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

/**
 * Whether the account's cap per recipient domain (a free-mail address on its own) is reached today,
 * in the account's zone: every email to that inbox key that went or may have gone, one-offs too.
 * Under the key's own lock, in the transaction that then stores the email.
 */
export async function recipientCapReached(
  tx: Db | Transaction,
  account: { id: string; timezone: string; recipientDomainDailyCap: number | null },
  recipientKey: string,
  now: Date,
): Promise<{ cap: number; until: Date } | null> {
  const cap = account.recipientDomainDailyCap;
  if (cap === null) return null;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`recipient-cap:${account.id}:${recipientKey}`}, 0))`);
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(messages)
    .where(
      and(
        eq(messages.accountId, account.id),
        eq(messages.recipientKey, recipientKey),
        gte(messages.createdAt, startOfDay(now, account.timezone)),
        ne(messages.status, 'failed'),
      ),
    );
  return (row?.n ?? 0) < cap ? null : { cap, until: startOfNextDay(now, account.timezone) };
}

/**
 * Whether a sequence's new leads for today (first emails of its enrolments, in the account's zone)
 * are used up. Under the sequence's own lock, in the transaction that then stores the email.
 */
export async function newLeadsCapReached(
  tx: Db | Transaction,
  account: { id: string; timezone: string },
  sequence: { id: string; newLeadsPerDay: number | null },
  now: Date,
): Promise<{ cap: number; until: Date } | null> {
  const cap = sequence.newLeadsPerDay;
  if (cap === null) return null;
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`new-leads-cap:${sequence.id}`}, 0))`);
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(messages)
    .innerJoin(enrolments, eq(enrolments.id, messages.enrolmentId))
    .where(
      and(
        eq(messages.accountId, account.id),
        eq(messages.firstOfEnrolment, true),
        gte(messages.createdAt, startOfDay(now, account.timezone)),
        ne(messages.status, 'failed'),
        eq(enrolments.sequenceId, sequence.id),
      ),
    );
  return (row?.n ?? 0) < cap ? null : { cap, until: startOfNextDay(now, account.timezone) };
}

/** How far apart the emails of one cap's queue are released at its next opening: in the order they waited. */
export const QUEUE_SPACING_MS = 1_000;

/**
 * When an email held by a queued cap (a recipient domain, a sequence's new leads) may try again:
 * the cap's next opening, or a second after the last email already waiting in that queue for it
 * or later. They wake in the order they waited; those the cap admits go, the rest queue again in
 * that order. Called under the cap's lock, so two never take one place.
 */
export async function queuedRelease(tx: Db | Transaction, accountId: string, queue: string, opening: Date): Promise<Date> {
  const [row] = await tx
    .select({ last: sql<string | null>`max((${enrolments.waitingFor}->>'until')::timestamptz)` })
    .from(enrolments)
    .where(
      and(
        eq(enrolments.accountId, accountId),
        sql`(${enrolments.waitingFor}->>'queue') = ${queue}`,
        eq(enrolments.status, 'active'),
        sql`(${enrolments.waitingFor}->>'until')::timestamptz >= ${opening.toISOString()}::timestamptz`,
      ),
    );
  return row?.last ? new Date(new Date(row.last).getTime() + QUEUE_SPACING_MS) : opening;
}
