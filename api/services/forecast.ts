import { and, eq, gte, isNotNull, ne, sql } from 'drizzle-orm';
import type { Account } from '../../db/accounts.js';
import { rowsOf, type Db } from '../../db/client.js';
import { isLiveEnrolment } from '../../db/enrolment-queries.js';
import { enrolments, leads, messages, senders, testEmails } from '../../db/schema.js';
import { recipientKeyOf } from '../../domain/company.js';
import { forecastSequence, type ForecastEnrolment } from '../../domain/forecast.js';
import { sequenceDaysOff } from '../../domain/holidays.js';
import { startOfDay } from '../../domain/schedule.js';
import { currentWait } from '../../domain/waiting-for.js';
import { liveSteps, type Sequence } from './sequences.js';

export const FORECAST_ASSUMPTIONS =
  'Nobody replies, unsubscribes, bounces, pauses or edits meanwhile; paused enrolments stay paused; ' +
  'the account’s and senders’ daily caps are left, after today’s emails, to this sequence alone; ' +
  'emails a cap holds go at the next opening of the send window, in the order they waited.';

/**
 * `GET /v1/sequences/:id/forecast`: the sequence's live enrolments and today's counts, read in
 * one snapshot, played forward by domain/forecast.ts. Its caps assume this sequence alone uses
 * the account's and the senders' remaining room on the days ahead (today's counts are everyone's).
 */
export async function sequenceForecast(db: Db, account: Account, sequence: Sequence, days: number, now = new Date()) {
  return db.transaction(
    async (tx) => {
      const steps = await liveSteps(tx as unknown as Db, sequence.id);
      const rows = await tx
        .select({
          id: enrolments.id,
          status: enrolments.status,
          nextStepId: enrolments.nextStepId,
          nextDueAt: enrolments.nextDueAt,
          lastStepId: enrolments.lastStepId,
          lastSentAt: enrolments.lastSentAt,
          enrolledAt: enrolments.enrolledAt,
          waitingFor: enrolments.waitingFor,
          pausedUntil: enrolments.pausedUntil,
          holdout: enrolments.holdout,
          senderId: enrolments.senderId,
          timezone: leads.timezone,
          country: leads.country,
          email: leads.email,
        })
        .from(enrolments)
        .innerJoin(leads, eq(leads.id, enrolments.leadId))
        .where(and(eq(enrolments.sequenceId, sequence.id), isLiveEnrolment()));
      const senderCaps = await tx
        .select({ id: senders.id, cap: senders.dailyCap, zone: senders.timezone })
        .from(senders)
        .where(and(eq(senders.accountId, account.id), isNotNull(senders.dailyCap)));

      const since = startOfDay(now, account.timezone);
      const todays = and(eq(messages.accountId, account.id), gte(messages.createdAt, since), ne(messages.status, 'failed'));
      // What counts against the account's cap today, as db/daily-sends.ts counts it: emails and test copies.
      const [accountToday] = rowsOf<{ n: number }>(
        await tx.execute(sql`select (select count(*)::int from ${messages} where ${todays})
          + (select count(*)::int from ${testEmails} where ${testEmails.accountId} = ${account.id}
             and ${testEmails.createdAt} >= ${since.toISOString()}::timestamptz) as n`),
      );
      const bySender = await tx
        .select({ id: messages.senderId, n: sql<number>`count(*)::int` })
        .from(messages)
        .where(and(todays, isNotNull(messages.senderId)))
        .groupBy(messages.senderId);
      const byRecipient = account.recipientDomainDailyCap
        ? await tx
            .select({ key: messages.recipientKey, n: sql<number>`count(*)::int` })
            .from(messages)
            .where(and(todays, isNotNull(messages.recipientKey)))
            .groupBy(messages.recipientKey)
        : [];
      const [newLeads] = sequence.newLeadsPerDay
        ? await tx
            .select({ n: sql<number>`count(*)::int` })
            .from(messages)
            .innerJoin(enrolments, eq(enrolments.id, messages.enrolmentId))
            .where(and(todays, eq(messages.firstOfEnrolment, true), eq(enrolments.sequenceId, sequence.id)))
        : [{ n: 0 }];

      const daysOff = sequenceDaysOff(sequence, account);
      const index = new Map(steps.map((s, i) => [s.id, i]));
      const enrolled: ForecastEnrolment[] = [];
      for (const r of rows) {
        // Planned: its next step, due as planned. Not planned yet (just enrolled, or its last email
        // just went and the plan still names it): the step after the last sent, due by its delay.
        const planned = r.nextStepId !== null && r.nextStepId !== r.lastStepId && index.has(r.nextStepId);
        const next = planned ? index.get(r.nextStepId!)! : r.lastStepId ? (index.get(r.lastStepId) ?? -2) + 1 : 0;
        const { key, calendar } = daysOff(r.country);
        enrolled.push({
          id: r.id,
          status: r.status as 'active' | 'paused',
          nextStep: next >= 0 && next < steps.length ? next : null,
          nextDueAt: planned ? r.nextDueAt : null,
          previousAt: r.lastSentAt ?? r.enrolledAt,
          // A paused one waits for what paused it (as the enrolment answers it); an active one for its plan.
          waitingFor: r.status === 'paused' ? currentWait(r, now.getTime()) : r.waitingFor,
          started: r.lastStepId !== null,
          holdout: r.holdout === true,
          zone: r.timezone ?? account.timezone,
          daysOff: calendar,
          daysOffKey: key,
          senderId: r.senderId,
          recipientKey: r.email ? recipientKeyOf(r.email) : `enrolment:${r.id}`,
        });
      }
      const forecast = forecastSequence({
        steps: steps.map((s) => ({ id: s.id, delay: { amount: s.delayAmount, unit: s.delayUnit } })),
        window: sequence.sendWindow ?? null,
        enrolments: enrolled,
        zone: account.timezone,
        caps: {
          accountDaily: account.limits.maxEmailsPerDay,
          senders: new Map(senderCaps.map((s) => [s.id, { cap: s.cap!, zone: s.zone ?? account.timezone }])),
          recipientDaily: account.recipientDomainDailyCap,
          newLeadsPerDay: sequence.newLeadsPerDay,
        },
        sentToday: {
          account: Number(accountToday?.n ?? 0),
          bySender: new Map(bySender.map((s) => [s.id!, s.n])),
          byRecipient: new Map(byRecipient.map((r) => [r.key!, r.n])),
          newLeads: newLeads?.n ?? 0,
        },
        now,
        days,
      });
      return { steps, forecast, enrolments: rows.length };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}
