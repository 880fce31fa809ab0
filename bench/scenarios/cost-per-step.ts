import pLimit from 'p-limit';
import { databaseStatements } from '../../metrics.js';
import { enrolmentWorkflowId } from '../../workflows/contract.js';
import { startBenchEnvironment } from '../environment.js';
import { round, until } from '../stats.js';
import { createSequence, enrolAll, importLeads } from './common.js';

export interface CostPerStep {
  enrolments: number;
  stepsSent: number;
  historyEventsPerStep: number;
  rawHistoryEventsPerActivity: number;
  rowsWrittenPerStep: number;
  /** Statements sent to PostgreSQL per sent step (round trips: BEGIN and COMMIT count), counted, not timed. */
  statementsPerStep: number;
  /** Inserted + updated + deleted rows per sent step, by table. */
  rowsByTable: Record<string, number>;
  /**
   * A one-step sequence's emails, end to end in the worker (first plan, send, last plan,
   * completion): statements per email, all and by activity. Absent from runs before it was measured.
   */
  oneStep?: { emails: number; workerStatementsPerEmail: number; byActivity: Record<string, number>; apiStatementsPerEnrolment: number };
}

/**
 * What one sent step costs the two stores: Temporal history events and PostgreSQL rows written
 * (inserts, updates and deletes from pg_stat_user_tables), over the whole life of enrolments in
 * a three-step sequence, enrolment included. The raw figure is one no-op activity's workflow.
 */
export async function costPerStep(enrolments: number): Promise<CostPerStep> {
  const STEPS = 3;
  const env = await startBenchEnvironment();
  try {
    const raw = await env.rawWorker({ async noop() {} });
    const rawHandle = await raw.client.workflow.start('rawOneActivity', { taskQueue: raw.taskQueue, workflowId: 'raw-cost' });
    await rawHandle.result();
    const rawEvents = (await rawHandle.fetchHistory()).events?.length ?? 0;

    const service = await env.service();
    const sequenceId = await createSequence(
      service.api,
      Array.from({ length: STEPS }, () => ({ delayMinutes: 0 })),
    );
    const leadIds = await importLeads(service.api, enrolments, 'cost');
    const before = await tableWrites(env.sql);
    const statementsBefore = await statementsSent();
    await enrolAll(service.api, sequenceId, leadIds);
    await until(
      async () => Number((await env.sql`select count(*) as n from enrolments where status = 'completed'`)[0]!.n) >= enrolments,
      `${enrolments} enrolments completed`,
      60 * 60_000,
      500,
    );
    // The service (API and worker) runs in this process: its statement counter is this one.
    const statements = (await statementsSent()) - statementsBefore;
    const ids = (await env.sql<{ id: string }[]>`select id from enrolments`).map((r) => r.id);
    const limit = pLimit(20);
    const lengths = await Promise.all(
      ids.map((id) =>
        limit(async () => (await service.temporal.workflow.getHandle(enrolmentWorkflowId(id)).fetchHistory()).events?.length ?? 0),
      ),
    );
    const oneStep = await oneStepStatements(env, service, enrolments);
    // PostgreSQL publishes a connection's table statistics when it closes: stop the service first.
    await service.stop();
    await new Promise((r) => setTimeout(r, 1_500));
    const after = await tableWrites(env.sql);
    const stepsSent = env.sink.emails.length;
    const rowsByTable = Object.fromEntries(
      Object.entries(after)
        .map(([table, n]) => [table, round((n - (before[table] ?? 0)) / stepsSent, 2)] as const)
        .filter(([, n]) => n > 0),
    );
    return {
      enrolments,
      stepsSent,
      historyEventsPerStep: round(lengths.reduce((a, b) => a + b, 0) / stepsSent, 1),
      rawHistoryEventsPerActivity: rawEvents,
      rowsWrittenPerStep: round(
        Object.values(rowsByTable).reduce((a, b) => a + b, 0),
        2,
      ),
      rowsByTable,
      statementsPerStep: round(statements / stepsSent, 1),
      oneStep,
    };
  } finally {
    await env.close();
  }
}

/** Statements sent so far, by the activity that sent them ('none': the API). */
async function statementsByActivity(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await databaseStatements.get()).values) counts[String(v.labels.activity ?? 'none')] = v.value;
  return counts;
}

async function statementsSent(): Promise<number> {
  return Object.values(await statementsByActivity()).reduce((a, b) => a + b, 0);
}

/**
 * What the floor counts: the worker's statements per sent one-step email. The API's
 * enrolment requests are counted apart (label none); the polling here goes through its own
 * connection, which the counter never sees.
 */
async function oneStepStatements(
  env: Awaited<ReturnType<typeof startBenchEnvironment>>,
  service: Awaited<ReturnType<Awaited<ReturnType<typeof startBenchEnvironment>>['service']>>,
  count: number,
): Promise<NonNullable<CostPerStep['oneStep']>> {
  const sequenceId = await createSequence(service.api, [{ delayMinutes: 0 }]);
  const leadIds = await importLeads(service.api, count, 'cost-one-step');
  const emailsBefore = env.sink.emails.length;
  const before = await statementsByActivity();
  await enrolAll(service.api, sequenceId, leadIds);
  await until(
    async () =>
      Number((await env.sql`select count(*) as n from enrolments where sequence_id = ${sequenceId} and status = 'completed'`)[0]!.n) >=
      count,
    `${count} one-step enrolments completed`,
    60 * 60_000,
    500,
  );
  // The portal check after completion is the last statement; let it land.
  await new Promise((r) => setTimeout(r, 1_000));
  const after = await statementsByActivity();
  const emails = env.sink.emails.length - emailsBefore;
  const delta = Object.fromEntries(
    Object.entries(after)
      .map(([activity, n]) => [activity, n - (before[activity] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
  const { none = 0, ...worker } = delta;
  return {
    emails,
    workerStatementsPerEmail: round(Object.values(worker).reduce((a, b) => a + b, 0) / emails, 1),
    byActivity: Object.fromEntries(Object.entries(worker).map(([activity, n]) => [activity, round(n / emails, 2)])),
    apiStatementsPerEnrolment: round(none / count, 1),
  };
}

async function tableWrites(sql: import('postgres').Sql): Promise<Record<string, number>> {
  const rows = await sql<{ table: string; n: string }[]>`
    select relname as table, n_tup_ins + n_tup_upd + n_tup_del as n from pg_stat_user_tables`;
  return Object.fromEntries(rows.map((r) => [r.table, Number(r.n)]));
}
