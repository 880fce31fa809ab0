import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { and, eq, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { isLiveEnrolment, selectStartableEnrolments } from '../../db/enrolment-queries.js';
import { enrolmentBatches, enrolments } from '../../db/schema.js';
import type { Logger } from '../../logger.js';
import {
  signalEnrolment,
  signalWithStartEnrolment,
  startEnrolment,
  startSequenceBroadcast,
  type StartableEnrolment,
} from '../../temporal/client.js';
import type { SequenceBroadcast } from '../../workflows/contract.js';

const IN_FLIGHT = 48;
const MARK_EVERY = 500;
/** Starts are recorded at least this often, so a slow batch still shows the sweeper it is alive. */
const MARK_AT_LEAST_EVERY_MS = 5_000;
/** How old a row with no workflow must be before the sweeper starts it; a batch's progress counts too. */
const SWEEP_GRACE_MS = 30_000;

/**
 * Starts the workflows of enrolments already committed to PostgreSQL. The row comes first, so a
 * crash between the two loses nothing: `startPendingEnrolments` finds rows with no workflow yet.
 * Starting is idempotent through the workflow id.
 *
 * A start that fails (Temporal unreachable or overloaded: DEADLINE_EXCEEDED, UNAVAILABLE) does
 * not fail the request: the enrolment is committed, and the sweeper starts it, with every start
 * not yet tried, within a minute. Answering 500 there made clients retry an enrolment that had
 * in fact succeeded. Returns how many starts were made and how many were left to the sweeper.
 */
export async function startEnrolmentWorkflows(
  deps: { db: Db; temporal: Client; config: Config; logger?: Logger },
  rows: StartableEnrolment[],
  options: { batchId?: string } = {},
): Promise<{ started: number; deferred: number }> {
  const limit = pLimit(IN_FLIGHT);
  const started: string[] = [];
  let startedCount = 0;
  let deferred = 0;
  let firstError: unknown;
  let markedAt = Date.now();
  // While this request holds its batch's lease, the sweeper leaves the batch's rows to it.
  // Without it, a bulk enrolment whose starts outlast the sweeper's grace (10,000 at 150/s is a
  // minute) was started a second time by the sweeper from its 30th second: as many starts again
  // for the server, each refused as already started, slowing the request it raced.
  const lease = options.batchId ? batchStartLease(deps, options.batchId) : undefined;
  if (lease && !(await lease.claim())) {
    // Another request is starting this batch right now (the first, still at work when its retry
    // came): the rows are its own, and the sweeper's if it dies.
    return { started: 0, deferred: 0 };
  }
  const markStarted = async (ids: string[], options: { renewLease: boolean }) => {
    markedAt = Date.now();
    for (let i = 0; i < ids.length; i += 5_000) {
      await deps.db
        .update(enrolments)
        .set({ workflowStartedAt: new Date() })
        .where(inArray(enrolments.id, ids.slice(i, i + 5_000)));
    }
    if (ids.length && options.renewLease) await lease?.renew();
  };
  try {
    await startAll();
  } finally {
    await lease?.release();
  }
  if (deferred) {
    deps.logger?.warn(
      { deferred, started: startedCount, err: firstError },
      'workflow starts failed; the pending-start sweeper will retry them',
    );
  }
  return { started: startedCount, deferred };

  async function startAll() {
    await Promise.all(
      rows.map((row) =>
        limit(async () => {
          // After one refusal the rest would most likely wait out the same deadline: leave them to
          // the sweeper at once, so the request answers in seconds, not minutes.
          if (firstError) {
            deferred++;
            return;
          }
          try {
            await startEnrolment(deps, row);
          } catch (error) {
            deferred++;
            firstError ??= error;
            return;
          }
          started.push(row.id);
          startedCount++;
          // Recorded as we go: after a crash halfway through 10,000, the sweeper and a retried
          // request only redo the starts that had not happened.
          if (started.length >= MARK_EVERY || (started.length && Date.now() - markedAt >= MARK_AT_LEAST_EVERY_MS)) {
            await markStarted(started.splice(0), { renewLease: true });
          }
        }),
      ),
    );
    await markStarted(started.splice(0), { renewLease: false });
  }
}

/**
 * A request's lease on the batch whose workflows it starts (`enrolment_batches.starts_progressed_at`):
 * claimed unless another request's is fresh, renewed as starts are recorded, released at the end,
 * and stale `SWEEP_GRACE_MS` after its last renewal (the request died). It only spares the server
 * duplicate starts, which the workflow id refuses anyway, so a failed write is logged, not thrown:
 * it must not fail a request whose enrolments are committed.
 */
function batchStartLease(deps: { db: Db; logger?: Logger }, batchId: string) {
  let released = false;
  const bestEffort = <T>(write: Promise<T>, fallback: T) =>
    write.catch((error: unknown) => {
      deps.logger?.warn({ err: error, batchId }, 'could not write the start lease of a batch; the sweeper may start its rows too');
      return fallback;
    });
  const stamp = (at: SQL | null) =>
    deps.db.update(enrolmentBatches).set({ startsProgressedAt: at }).where(eq(enrolmentBatches.id, batchId));
  return {
    async claim(): Promise<boolean> {
      const claimed = deps.db
        .update(enrolmentBatches)
        .set({ startsProgressedAt: sql`now()` })
        .where(
          and(
            eq(enrolmentBatches.id, batchId),
            or(isNull(enrolmentBatches.startsProgressedAt), lt(enrolmentBatches.startsProgressedAt, graceAgo(SWEEP_GRACE_MS))),
          ),
        )
        .returning({ id: enrolmentBatches.id })
        .then((rows) => rows.length > 0);
      return bestEffort(claimed, true);
    },
    // Both after the release do nothing: a start still in flight when the request failed must
    // not take the lease again.
    async renew() {
      if (!released) await bestEffort(stamp(sql`now()`), undefined);
    },
    async release() {
      released = true;
      await bestEffort(stamp(null), undefined);
    },
  };
}

const graceAgo = (ms: number) => sql`now() - make_interval(secs => ${ms / 1000})`;

/**
 * Rows older than `olderThanMs` with no workflow, left behind by a crash, and not in a batch whose
 * start lease was renewed within `olderThanMs` (so 0 ignores leases). Starts them.
 */
export async function startPendingEnrolments(
  deps: { db: Db; temporal: Client; config: Config },
  olderThanMs = SWEEP_GRACE_MS,
): Promise<number> {
  const olderThan = graceAgo(olderThanMs);
  const rows = await selectStartableEnrolments(deps.db)
    .leftJoin(enrolmentBatches, eq(enrolmentBatches.id, enrolments.batchId))
    .where(
      and(
        isNull(enrolments.workflowStartedAt),
        lt(enrolments.enrolledAt, olderThan),
        // Not while a request is still starting the batch (its lease is fresh).
        or(isNull(enrolmentBatches.startsProgressedAt), lt(enrolmentBatches.startsProgressedAt, olderThan)),
      ),
    )
    .limit(10_000);
  if (rows.length === 0) return 0;
  const { started, deferred } = await startEnrolmentWorkflows(deps, rows);
  // Nothing could be started: Temporal is still away. Say so instead of claiming progress.
  if (started === 0 && deferred > 0) throw new Error(`${deferred} workflow starts failed again; retrying on the next sweep`);
  return started;
}

/** Runs the pending-start sweep every `intervalMs` until stopped. */
export function runPendingStartSweeper(deps: { db: Db; temporal: Client; config: Config; logger: Logger }, intervalMs = 15_000) {
  let stopped = false;
  const tick = async () => {
    try {
      const n = await startPendingEnrolments(deps);
      if (n) deps.logger.warn({ started: n }, 'started workflows of enrolments left without one');
    } catch (error) {
      deps.logger.error({ err: error }, 'pending enrolment sweep failed');
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  let timer = setTimeout(tick, 1_000);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * Pauses or stops each enrolment of `signals` with `reason`, one whose workflow has not started
 * yet included (a start cut short: the API died after the commit, or Temporal was away; or still
 * on its way): that one gets signal-with-start (signalWithStartEnrolment), so the pause or stop
 * is in its workflow's first task, before it plans or sends anything, and a start racing it
 * finds it started. Starting it and then signalling let that first task plan and send a due step
 * before the signal arrived. An enrolment that has ended needs nothing. A failure is thrown, not
 * left to the sweeper (which would start the workflow without the signal): the caller's retry
 * delivers again.
 */
export async function pauseOrStopEnrolments(
  deps: { db: Db; temporal: Client; config: Config },
  signals: { enrolmentId: string; signal: 'pause' | 'stop' }[],
  reason: string,
): Promise<void> {
  if (!signals.length) return;
  const unstarted = await selectStartableEnrolments(deps.db).where(
    and(
      inArray(
        enrolments.id,
        signals.map((s) => s.enrolmentId),
      ),
      isLiveEnrolment(),
      isNull(enrolments.workflowStartedAt),
    ),
  );

  const unstartedById = new Map(unstarted.map((row) => [row.id, row]));
  const limit = pLimit(16);
  await Promise.all(
    signals.map(({ enrolmentId, signal }) =>
      limit(async () => {
        const row = unstartedById.get(enrolmentId);
        if (!row) return void (await signalEnrolment(deps, enrolmentId, signal, { reason }));
        // Started now with the signal, or found ended (it had been started): either way started.
        await signalWithStartEnrolment(deps, row, signal, { reason });
        await deps.db
          .update(enrolments)
          .set({ workflowStartedAt: new Date() })
          .where(and(eq(enrolments.id, row.id), isNull(enrolments.workflowStartedAt)));
      }),
    ),
  );
}

/** Sequence-wide actions travel through a durable broadcast workflow. */
export async function broadcastToSequence(deps: { temporal: Client; config: Config }, input: SequenceBroadcast): Promise<string> {
  return startSequenceBroadcast(deps, input, randomUUID());
}
