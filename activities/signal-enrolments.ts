import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { and, asc, eq, gt } from 'drizzle-orm';
import { isLiveEnrolment } from '../db/enrolment-queries.js';
import pLimit from 'p-limit';
import type { Db } from '../db/client.js';
import { enrolments } from '../db/schema.js';
import { signalEnrolment } from '../temporal/client.js';
import type { BroadcastInput } from '../workflows/contract.js';

const PAGE_SIZE = 1_000;
const IN_FLIGHT = 64;

/** Signals one page of a sequence's live enrolments; the broadcast workflow loops over pages. */
export function createSignalEnrolmentPage({ db, temporal }: { db: Db; temporal: Client }) {
  return async function signalEnrolmentPage(
    input: BroadcastInput & { afterId: string | null },
  ): Promise<{ signalled: number; lastId: string | null }> {
    const rows = await db
      .select({ id: enrolments.id })
      .from(enrolments)
      .where(
        and(eq(enrolments.sequenceId, input.sequenceId), isLiveEnrolment(), input.afterId ? gt(enrolments.id, input.afterId) : undefined),
      )
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
