import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Db } from '../db/client.js';
import { enrolments } from '../db/schema.js';
import { enrolmentWorkflowId } from '../workflows/ids.js';

const PAGE_SIZE = 1_000;
const IN_FLIGHT = 64;

/** Signals one page of a sequence's live enrolments; the broadcast workflow loops over pages. */
export function createSignalEnrolmentPage({ db, temporal }: { db: Db; temporal: Client }) {
  return async function signalEnrolmentPage(input: {
    sequenceId: string;
    signal: 'pause' | 'resume' | 'stop' | 'reschedule';
    reason?: string;
    afterId: string | null;
  }): Promise<{ signalled: number; lastId: string | null }> {
    const rows = await db
      .select({ id: enrolments.id })
      .from(enrolments)
      .where(
        and(
          eq(enrolments.sequenceId, input.sequenceId),
          inArray(enrolments.status, ['active', 'paused']),
          input.afterId ? gt(enrolments.id, input.afterId) : undefined,
        ),
      )
      .orderBy(asc(enrolments.id))
      .limit(PAGE_SIZE);
    const limit = pLimit(IN_FLIGHT);
    const args = input.signal === 'stop' && input.reason ? [{ reason: input.reason }] : [];
    let signalled = 0;
    await Promise.all(
      rows.map((row) =>
        limit(async () => {
          try {
            await temporal.workflow.getHandle(enrolmentWorkflowId(row.id)).signal(input.signal, ...args);
            signalled++;
          } catch (error) {
            // Ended, or not started yet: the workflow reads the sequence's status when it plans.
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          }
          if (signalled % 100 === 0) Context.current().heartbeat(row.id);
        }),
      ),
    );
    return { signalled, lastId: rows.length === PAGE_SIZE ? rows.at(-1)!.id : null };
  };
}
