import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { and, asc, eq, gt, ne } from 'drizzle-orm';
import { isLiveEnrolment } from '../db/enrolment-queries.js';
import pLimit from 'p-limit';
import type { Db } from '../db/client.js';
import { enrolments, leads } from '../db/schema.js';
import { signalEnrolment } from '../temporal/client.js';
import type { BroadcastInput } from '../workflows/contract.js';

const PAGE_SIZE = 1_000;
const IN_FLIGHT = 64;

/** Signals one page of the live enrolments a broadcast names; the broadcast workflow loops over pages. */
export function createSignalEnrolmentPage({ db, temporal }: { db: Db; temporal: Client }) {
  return async function signalEnrolmentPage(
    input: BroadcastInput & { afterId: string | null },
  ): Promise<{ signalled: number; lastId: string | null }> {
    const after = input.afterId ? gt(enrolments.id, input.afterId) : undefined;
    const rows =
      'colleaguesOf' in input
        ? await db
            .select({ id: enrolments.id })
            .from(enrolments)
            .innerJoin(leads, eq(leads.id, enrolments.leadId))
            .where(
              and(
                eq(enrolments.accountId, input.colleaguesOf.accountId),
                eq(leads.accountId, input.colleaguesOf.accountId),
                eq(leads.companyKey, input.colleaguesOf.companyKey),
                ne(enrolments.leadId, input.colleaguesOf.exceptLeadId),
                input.colleaguesOf.sequenceId ? eq(enrolments.sequenceId, input.colleaguesOf.sequenceId) : undefined,
                isLiveEnrolment(),
                after,
              ),
            )
            .orderBy(asc(enrolments.id))
            .limit(PAGE_SIZE)
        : await db
            .select({ id: enrolments.id })
            .from(enrolments)
            .where(and(eq(enrolments.sequenceId, input.sequenceId), isLiveEnrolment(), after))
            .orderBy(asc(enrolments.id))
            .limit(PAGE_SIZE);
    const limit = pLimit(IN_FLIGHT);
    let signalled = 0;
    await Promise.all(
      rows.map((row) =>
        limit(async () => {
          // Ended, or not started yet: the workflow reads the sequence's status when it plans.
          if (await signalEnrolment({ temporal }, row.id, input.signal, { reason: input.reason })) signalled++;
          if (signalled % 100 === 0) Context.current().heartbeat(row.id);
        }),
      ),
    );
    return { signalled, lastId: rows.length === PAGE_SIZE ? rows.at(-1)!.id : null };
  };
}
