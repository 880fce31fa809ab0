import type { Client } from '@temporalio/client';
import { and, eq, sql } from 'drizzle-orm';
import type { Config } from '../../config.js';
import { rowsOf, type Db } from '../../db/client.js';
import { accounts, enrolments, messages, notifications, senders, sequences } from '../../db/schema.js';
import { storableLine } from '../../domain/inbound.js';
import { startSenderBroadcast } from '../../temporal/client.js';
import {
  DEFAULT_DELIVERABILITY,
  protectionReason,
  protectionVerdict,
  trips,
  type DeliverabilitySettings,
  type ProtectionTrip,
  type ProtectionVerdict,
  type SendingRecord,
} from '../../domain/deliverability.js';
import type { Logger } from '../../logger.js';
import { notifyPortal } from '../../temporal/portal-events.js';
import { broadcastToSequence } from './workflow-starter.js';

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
  logger: Logger;
}

/** The account's thresholds, each one it never set at its default (settings stored before a new one existed too). */
export const settingsOf = (account: { deliverability: DeliverabilitySettings | null }): DeliverabilitySettings => ({
  ...DEFAULT_DELIVERABILITY,
  ...account.deliverability,
});

/**
 * What the account's emails of the last `windowDays` became, for the whole account and for one
 * sequence: one scan of the account's recent emails (messages_account_sent_idx). Every email that
 * went counts as sent (delivered or not); a refused one never went.
 */
async function recentRecords(db: Db, accountId: string, sequenceId: string | null, senderId: string | null, windowDays: number) {
  const since = new Date(Date.now() - windowDays * 86_400_000);
  const [row] = rowsOf<Record<string, string | number>>(
    await db.execute(sql`
      select count(*) as sent,
             count(*) filter (where ${messages.status} = 'bounced') as bounced,
             count(*) filter (where ${messages.complainedAt} is not null) as complained,
             count(*) filter (where ${enrolments.sequenceId} = ${sequenceId}) as seq_sent,
             count(*) filter (where ${enrolments.sequenceId} = ${sequenceId} and ${messages.status} = 'bounced') as seq_bounced,
             count(*) filter (where ${enrolments.sequenceId} = ${sequenceId} and ${messages.complainedAt} is not null) as seq_complained,
             count(*) filter (where ${messages.senderId} = ${senderId}) as sender_sent,
             count(*) filter (where ${messages.senderId} = ${senderId} and ${messages.status} = 'bounced') as sender_bounced,
             count(*) filter (where ${messages.senderId} = ${senderId} and ${messages.complainedAt} is not null) as sender_complained
      from ${messages} left join ${enrolments} on ${enrolments.id} = ${messages.enrolmentId}
      where ${messages.accountId} = ${accountId} and ${messages.sentAt} >= ${since.toISOString()}::timestamptz
        and ${messages.status} in ('sent', 'delivered', 'bounced')`),
  );
  const n = (key: string) => Number(row?.[key] ?? 0);
  const account: SendingRecord = { sent: n('sent'), hardBounces: n('bounced'), complaints: n('complained') };
  const sequence: SendingRecord = { sent: n('seq_sent'), hardBounces: n('seq_bounced'), complaints: n('seq_complained') };
  const sender: SendingRecord = { sent: n('sender_sent'), hardBounces: n('sender_bounced'), complaints: n('sender_complained') };
  return { account, sequence, sender };
}

/**
 * Runs the breaker after a hard bounce or a complaint on one of the account's emails: the only
 * events that raise a rate. Over a threshold, the email's sequence (or, for the account's rate,
 * every active sequence of the account) pauses itself: its status is written first, under its row
 * lock, so every send decided after it (activities/send-email.ts reads the sequence under the
 * enrolment's lock) holds; then its live enrolments are told, and the portal. Idempotent: a
 * sequence already tripped is left as it is, and one a person resumed is let be for the grace
 * period unless its rate doubled.
 */
export async function guardDeliverability(deps: Deps, messageId: string): Promise<ProtectionVerdict[]> {
  const [message] = await deps.db
    .select({ accountId: messages.accountId, sequenceId: enrolments.sequenceId, senderId: messages.senderId })
    .from(messages)
    .leftJoin(enrolments, eq(enrolments.id, messages.enrolmentId))
    .where(eq(messages.id, messageId));
  if (!message) return [];
  const [account] = await deps.db
    .select({ deliverability: accounts.deliverability })
    .from(accounts)
    .where(eq(accounts.id, message.accountId));
  if (!account) return [];
  const settings = settingsOf(account);
  const records = await recentRecords(deps.db, message.accountId, message.sequenceId, message.senderId, settings.windowDays);
  const accountVerdict = protectionVerdict(records.account, 'account', settings);
  const sequenceVerdict = message.sequenceId ? protectionVerdict(records.sequence, 'sequence', settings) : null;
  // A sender's own rate says something the account's does not only when others sent too: an
  // account with one sender is judged as the account.
  const senderIsAccount = records.sender.sent === records.account.sent;
  const senderVerdict = message.senderId && !senderIsAccount ? protectionVerdict(records.sender, 'sender', settings) : null;
  if (senderVerdict) await guardSender(deps, message.accountId, message.senderId!, senderVerdict, settings);
  if (!accountVerdict && !sequenceVerdict) return senderVerdict ? [senderVerdict] : [];

  const now = new Date();
  const tripped = await deps.db.transaction(async (tx) => {
    // The account's verdict reaches every active sequence; the sequence's own, only its sequence.
    const candidates = await tx
      .select({ id: sequences.id, name: sequences.name, protection: sequences.protection })
      .from(sequences)
      .where(
        and(
          eq(sequences.accountId, message.accountId),
          eq(sequences.status, 'active'),
          accountVerdict ? undefined : eq(sequences.id, message.sequenceId!),
        ),
      )
      .for('update');
    const changed: { sequenceId: string; trip: ProtectionTrip }[] = [];
    for (const candidate of candidates) {
      const verdict = candidate.id === message.sequenceId && sequenceVerdict ? sequenceVerdict : accountVerdict;
      if (!verdict || !trips(verdict, candidate.protection, now, settings)) continue;
      const trip: ProtectionTrip = { ...verdict, trippedAt: now.toISOString(), resumedAt: null };
      changed.push({ sequenceId: candidate.id, trip });
    }
    for (const { sequenceId, trip } of changed) {
      await tx.update(sequences).set({ status: 'paused', protection: trip, updatedAt: now }).where(eq(sequences.id, sequenceId));
      const name = candidates.find((c) => c.id === sequenceId)!.name;
      await tx.insert(notifications).values({
        accountId: message.accountId,
        type: 'sequence_protection_paused',
        title: `"${name}" was paused to protect your sending reputation`.slice(0, 500),
        body:
          `Paused by ${protectionReason(trip)}.\n\n` +
          'Check the list (remove invalid or purchased addresses), then resume the sequence: the breaker then lets it be ' +
          `for ${settings.graceDays} days unless the rate doubles.`,
      });
    }
    return changed;
  });

  for (const { sequenceId, trip } of tripped) await announceSequenceTrip(deps, message.accountId, sequenceId, trip);
  return tripped.map((t) => t.trip);
}

/**
 * A sender whose own recent emails (in every sequence) are over a threshold: the sender is marked
 * tripped, under their row lock, so every send decided after it holds (activities/send-email.ts
 * reads the sender with the enrolment); then their live enrolments are paused with the reason,
 * and the user and the portal told. `POST /v1/senders/:id/resume` lifts it.
 */
async function guardSender(deps: Deps, accountId: string, senderId: string, verdict: ProtectionVerdict, settings: DeliverabilitySettings) {
  const now = new Date();
  const trip = await deps.db.transaction(async (tx) => {
    const [sender] = await tx
      .select({ name: senders.name, email: senders.email, protection: senders.protection, retiredAt: senders.retiredAt })
      .from(senders)
      .where(and(eq(senders.id, senderId), eq(senders.accountId, accountId)))
      .for('update');
    if (!sender || sender.retiredAt || !trips(verdict, sender.protection, now, settings)) return null;
    const made: ProtectionTrip = { ...verdict, trippedAt: now.toISOString(), resumedAt: null };
    await tx.update(senders).set({ protection: made, updatedAt: now }).where(eq(senders.id, senderId));
    await tx.insert(notifications).values({
      accountId,
      senderId,
      type: 'sequence_protection_paused',
      title: `${storableLine(sender.name || sender.email || 'A sender', 200)}’s emails were paused to protect your sending reputation`,
      body:
        `Paused by ${protectionReason(made)}.\n\n` +
        'Check their lists, then resume the sender (POST /v1/senders/{id}/resume): the breaker then lets them be ' +
        `for ${settings.graceDays} days unless the rate doubles.`,
    });
    return made;
  });
  if (trip) await announceSenderTrip(deps, accountId, senderId, trip);
}

/** Tells a tripped sequence's live enrolments to pause, with the figures, and the portal. Safe to repeat. */
async function announceSequenceTrip(deps: Deps, accountId: string, sequenceId: string, trip: ProtectionTrip) {
  const reason = protectionReason(trip);
  deps.logger.warn({ accountId, sequenceId, cause: trip.cause, scope: trip.scope, rate: trip.rate }, reason);
  await broadcastToSequence(deps, { sequenceId, signal: 'pause', reason });
  await notifyPortal(
    deps,
    accountId,
    'sequence.paused',
    { sequenceId, ...figures(trip), reason },
    `sequence-paused-${sequenceId}-${trip.trippedAt}`,
  );
}

/** Tells a tripped sender's live enrolments to pause, with the figures, and the portal. Safe to repeat. */
async function announceSenderTrip(deps: Deps, accountId: string, senderId: string, trip: ProtectionTrip) {
  const reason = protectionReason(trip);
  deps.logger.warn({ accountId, senderId, cause: trip.cause, scope: 'sender', rate: trip.rate }, reason);
  await startSenderBroadcast(deps, { senderOf: { accountId, senderId }, signal: 'pause', reason });
  await notifyPortal(
    deps,
    accountId,
    'sender.paused',
    { senderId, ...figures(trip), reason },
    `sender-paused-${senderId}-${trip.trippedAt}`,
  );
}

const figures = (trip: ProtectionTrip) => ({
  cause: trip.cause,
  scope: trip.scope,
  sent: trip.sent,
  count: trip.count,
  rate: trip.rate,
  threshold: trip.threshold,
  windowDays: trip.windowDays,
});

/**
 * An event's effects run again (its first delivery died after its writes committed): a trip it
 * made may have been written and never announced. Every unresumed trip of the account from the
 * last day is announced again; the broadcasts only pause what is not paused yet, and the portal
 * events keep their ids, so a portal that has them already can tell.
 */
export async function announceRecentTripsAgain(deps: Deps, messageId: string): Promise<void> {
  const [message] = await deps.db.select({ accountId: messages.accountId }).from(messages).where(eq(messages.id, messageId));
  if (!message) return;
  const since = new Date(Date.now() - 86_400_000).toISOString();
  const recent = (column: typeof sequences.protection | typeof senders.protection) =>
    sql`${column}->>'resumedAt' is null and (${column}->>'trippedAt')::timestamptz >= ${since}::timestamptz`;
  const trippedSequences = await deps.db
    .select({ id: sequences.id, protection: sequences.protection })
    .from(sequences)
    .where(and(eq(sequences.accountId, message.accountId), eq(sequences.status, 'paused'), recent(sequences.protection)));
  for (const s of trippedSequences) await announceSequenceTrip(deps, message.accountId, s.id, s.protection!);
  const trippedSenders = await deps.db
    .select({ id: senders.id, protection: senders.protection })
    .from(senders)
    .where(and(eq(senders.accountId, message.accountId), recent(senders.protection)));
  for (const s of trippedSenders) await announceSenderTrip(deps, message.accountId, s.id, s.protection!);
}
