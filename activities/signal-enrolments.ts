import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { and, asc, eq, gt, isNotNull, isNull, ne, or, sql } from 'drizzle-orm';
import { isLiveEnrolment, selectStartableEnrolments } from '../db/enrolment-queries.js';
import pLimit from 'p-limit';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { enrolmentEvents, enrolments, leads } from '../db/schema.js';
import { signalEnrolment, signalWithStartEnrolment } from '../temporal/client.js';
import type { BroadcastInput, ColleagueBroadcast, ColleagueSelection, SenderBroadcast } from '../workflows/contract.js';

const PAGE_SIZE = 1_000;
const IN_FLIGHT = 64;

/**
 * The enrolments a colleague's reply acts on. A stop: every live one. A pause: the active ones,
 * and those paused only to wait for their lead's return from an out-of-office (paused_until set),
 * which would resume by themselves on that day and write to the company again: the workflow's
 * pause replaces such a wait. One a person paused stays as it is, not paused again.
 */
const colleagueEnrolments = (of: ColleagueSelection, signal: ColleagueBroadcast['signal'], inboundId: string | undefined) =>
  and(
    eq(enrolments.accountId, of.accountId),
    eq(leads.accountId, of.accountId),
    eq(leads.companyKey, of.companyKey),
    ne(enrolments.leadId, of.exceptLeadId),
    of.sequenceId ? eq(enrolments.sequenceId, of.sequenceId) : undefined,
    signal === 'stop'
      ? isLiveEnrolment()
      : signal === 'resume'
        ? and(eq(enrolments.status, 'paused'), isNull(enrolments.pausedUntil), lastPauseMadeBy(inboundId ?? ''))
        : or(eq(enrolments.status, 'active'), and(eq(enrolments.status, 'paused'), isNotNull(enrolments.pausedUntil))),
  );

/**
 * A retired (or tripped) sender's enrolments to pause: the active ones and those waiting for an
 * out-of-office return (as for a colleague's reply); to re-plan: every live one of the sender they
 * moved to; to resume: those the sender's breaker trip paused.
 */
const senderEnrolments = (of: SenderBroadcast['senderOf'], signal: SenderBroadcast['signal'], reason: string) =>
  and(
    eq(enrolments.accountId, of.accountId),
    eq(enrolments.senderId, of.senderId),
    signal === 'pause'
      ? or(eq(enrolments.status, 'active'), and(eq(enrolments.status, 'paused'), isNotNull(enrolments.pausedUntil)))
      : signal === 'resume'
        ? // Only what the sender's trip paused (its reason, word for word): a person's pause stays.
          and(eq(enrolments.status, 'paused'), sql`${enrolments.waitingFor}->>'reason' = ${reason}`)
        : isLiveEnrolment(),
  );

/** The enrolment's latest status change is the pause this inbound email made: nobody has acted on it since. */
const lastPauseMadeBy = (inboundId: string) =>
  sql`(select ${enrolmentEvents.detail}->>'inboundId' from ${enrolmentEvents}
       where ${enrolmentEvents.enrolmentId} = ${enrolments.id} and ${enrolmentEvents.type} = 'status_changed'
       order by ${enrolmentEvents.createdAt} desc limit 1) = ${inboundId}`;

/**
 * Signals one page of the live enrolments a broadcast names; the broadcast workflow loops over
 * pages. `config` names the task queue a colleague's enrolment not started yet is started on
 * (the worker always gives it; a stub without it only signals).
 */
export function createSignalEnrolmentPage({
  db,
  temporal,
  config,
}: {
  db: Db;
  temporal: Client;
  config?: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
}) {
  return async function signalEnrolmentPage(
    input: BroadcastInput & { afterId: string | null },
  ): Promise<{ signalled: number; lastId: string | null }> {
    const after = input.afterId ? gt(enrolments.id, input.afterId) : undefined;
    const limit = pLimit(IN_FLIGHT);
    let signalled = 0;
    const counted = (id: string) => {
      signalled++;
      if (signalled % 100 === 0) Context.current().heartbeat(id);
    };

    if ('colleaguesOf' in input || 'senderOf' in input) {
      const { signal, reason } = input;
      const inboundId = 'colleaguesOf' in input ? input.inboundId : undefined;
      const rows = await selectStartableEnrolments(db)
        .where(
          and(
            'colleaguesOf' in input
              ? colleagueEnrolments(input.colleaguesOf, input.signal, inboundId)
              : senderEnrolments(input.senderOf, input.signal, input.reason),
            after,
          ),
        )
        .orderBy(asc(enrolments.id))
        .limit(PAGE_SIZE);
      await Promise.all(
        rows.map((row) =>
          limit(async () => {
            if (await signalEnrolment({ temporal }, row.id, signal, { reason, inboundId })) return counted(row.id);
            // No running workflow. Ended: nothing to do. Not started yet (committed, its start on
            // its way or left to the sweeper): unlike a sequence-wide pause, which the workflow
            // reads from its sequence when it plans, nothing in the database would tell it of a
            // colleague's reply, and it would send to the company. Signal-with-start: its first
            // task holds the pause or stop, before it plans anything.
            if (row.workflowStartedAt || !config || (signal !== 'pause' && signal !== 'stop')) return;
            if (await signalWithStartEnrolment({ temporal, config }, row, signal, { reason, inboundId })) {
              await db
                .update(enrolments)
                .set({ workflowStartedAt: new Date() })
                .where(and(eq(enrolments.id, row.id), isNull(enrolments.workflowStartedAt)));
              counted(row.id);
            }
          }),
        ),
      );
      return { signalled, lastId: rows.length === PAGE_SIZE ? rows.at(-1)!.id : null };
    }

    const rows = await db
      .select({ id: enrolments.id })
      .from(enrolments)
      .where(
        and(
          'accountOf' in input ? eq(enrolments.accountId, input.accountOf.accountId) : eq(enrolments.sequenceId, input.sequenceId),
          isLiveEnrolment(),
          after,
        ),
      )
      .orderBy(asc(enrolments.id))
      .limit(PAGE_SIZE);
    await Promise.all(
      rows.map((row) =>
        limit(async () => {
          // Ended, or not started yet: the workflow reads the sequence (and the account) when it plans.
          if (await signalEnrolment({ temporal }, row.id, input.signal, { reason: input.reason })) counted(row.id);
        }),
      ),
    );
    return { signalled, lastId: rows.length === PAGE_SIZE ? rows.at(-1)!.id : null };
  };
}
