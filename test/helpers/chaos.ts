import type { Client } from '@temporalio/client';
import { and, count, eq, isNull, sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { rowsOf, type Db } from '../../db/client.js';
import { enrolments, messages, type EnrolmentStatus } from '../../db/schema.js';
import type { asNewAccount } from './fixtures.js';
import type { ResendSink, SinkEmail } from './resend-sink.js';
import { eventually } from './service.js';

/**
 * Shared pieces of the fault tests in test/chaos/. `npm test` runs them at sizes CI can afford;
 * `npm run test:chaos` (CHAOS_FULL=1) runs the figures.
 */
export const CHAOS_FULL = process.env.CHAOS_FULL === '1';
export const chaosSize = <T>(ci: T, full: T): T => (CHAOS_FULL ? full : ci);

type Fixture = Awaited<ReturnType<typeof asNewAccount>>;

/** `n` fresh leads through the import endpoint (10,000 a request), their ids in order. */
export async function importLeads(fixture: Fixture, n: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let from = 0; from < n; from += 10_000) {
    const rows = Array.from({ length: Math.min(10_000, n - from) }, (_, i) => ({
      email: `${prefix}-${from + i}@example.com`,
      firstName: `Lead ${from + i}`,
    }));
    const res = await fixture.api('POST', '/v1/leads/import', { leads: rows });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    ids.push(...res.body.results.map((r: { id: string }) => r.id));
  }
  expect(ids).toHaveLength(n);
  return ids;
}

/** Enrols leads in bulk, 10,000 a request; every one must be accepted. */
export async function enrolAll(fixture: Fixture, sequenceId: string, leadIds: string[]) {
  for (let from = 0; from < leadIds.length; from += 10_000) {
    const res = await fixture.api('POST', `/v1/sequences/${sequenceId}/enrolments/bulk`, { leadIds: leadIds.slice(from, from + 10_000) });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    expect(res.body.skipped).toBe(0);
  }
}

const tag = (email: SinkEmail, name: string) => email.payload.tags?.find((t) => t.name === name)?.value;

/** The sink's emails that belong to one sequence (tests share the sink's history). */
export const sequenceEmails = (sink: ResendSink, sequenceId: string) => sink.emails.filter((e) => tag(e, 'sequence_id') === sequenceId);

export async function countEnrolments(db: Db, sequenceId: string, status?: EnrolmentStatus) {
  const [row] = await db
    .select({ n: count() })
    .from(enrolments)
    .where(and(eq(enrolments.sequenceId, sequenceId), status ? eq(enrolments.status, status) : undefined));
  return row!.n;
}

/** Waits until `n` enrolments of the sequence have `status`, logging progress now and then. */
export async function waitForEnrolments(db: Db, sequenceId: string, status: EnrolmentStatus, n: number, timeoutMs: number) {
  let lastLog = Date.now();
  await eventually(
    async () => {
      const have = await countEnrolments(db, sequenceId, status);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        console.log(`[chaos] ${have}/${n} enrolments ${status}`);
      }
      return have === n;
    },
    { timeoutMs, intervalMs: 500, what: `${n} enrolments ${status}` },
  );
}

export interface ExactlyOnceFigures {
  expected: number;
  atSink: number;
  lost: number;
  doubled: number;
}

/**
 * The end state every fault test must reach: at the provider, one email per lead and step (by
 * idempotency key and by recipient + step), none missing; in PostgreSQL, one `sent` message per
 * email with the provider's id, every enrolment in its final status with a workflow, nothing
 * left `sending`; in Temporal, no enrolment workflow of the sequence still running.
 */
export async function assertExactlyOnce(options: {
  sink: ResendSink;
  db: Db;
  sequenceId: string;
  leads: number;
  steps: number;
  finalStatus?: string;
  temporal?: Client;
}): Promise<ExactlyOnceFigures> {
  const { sink, db, sequenceId, leads, steps } = options;
  const expected = leads * steps;
  const emails = sequenceEmails(sink, sequenceId);
  const byKey = new Map<string, SinkEmail[]>();
  const byRecipientStep = new Map<string, number>();
  for (const email of emails) {
    expect(email.idempotencyKey, 'every email carries an idempotency key').toBeTruthy();
    byKey.set(email.idempotencyKey!, [...(byKey.get(email.idempotencyKey!) ?? []), email]);
    const recipientStep = `${String(email.payload.to)}|${tag(email, 'step_id')}`;
    byRecipientStep.set(recipientStep, (byRecipientStep.get(recipientStep) ?? 0) + 1);
  }
  const figures = { expected, atSink: emails.length, lost: Math.max(0, expected - byKey.size), doubled: emails.length - byKey.size };
  expect(
    [...byKey.values()].filter((list) => list.length > 1),
    'emails accepted twice under one key',
  ).toEqual([]);
  expect(
    [...byRecipientStep.entries()].filter(([, n]) => n > 1),
    'a recipient got one step twice',
  ).toEqual([]);
  expect(figures).toEqual({ expected, atSink: expected, lost: 0, doubled: 0 });

  const rows = await db
    .select({ key: messages.idempotencyKey, status: messages.status, providerId: messages.providerId })
    .from(messages)
    .innerJoin(enrolments, eq(enrolments.id, messages.enrolmentId))
    .where(eq(enrolments.sequenceId, sequenceId));
  expect(
    rows.filter((r) => r.status !== 'sent'),
    'messages not recorded as sent',
  ).toEqual([]);
  expect(rows).toHaveLength(expected);
  const sinkIdByKey = new Map([...byKey].map(([key, [email]]) => [key, email!.id]));
  expect(
    rows.filter((r) => sinkIdByKey.get(r.key) !== r.providerId),
    'messages whose provider id is not the sink email',
  ).toEqual([]);

  const statuses = await db
    .select({ status: enrolments.status, n: count() })
    .from(enrolments)
    .where(eq(enrolments.sequenceId, sequenceId))
    .groupBy(enrolments.status);
  expect(Object.fromEntries(statuses.map((s) => [s.status, s.n]))).toEqual({ [options.finalStatus ?? 'completed']: leads });
  const [withoutWorkflow] = await db
    .select({ n: count() })
    .from(enrolments)
    .where(and(eq(enrolments.sequenceId, sequenceId), isNull(enrolments.workflowStartedAt)));
  expect(withoutWorkflow!.n, 'enrolments whose workflow start was never recorded').toBe(0);
  const [sentEvents] = rowsOf<{ n: number }>(
    await db.execute(sql`
      select count(*)::int as n from enrolment_events ev join enrolments e on e.id = ev.enrolment_id
      where e.sequence_id = ${sequenceId} and ev.type = 'email_sent'`),
  );
  expect(sentEvents!.n, 'email_sent timeline events').toBe(expected);

  if (options.temporal) {
    // The database's status is written just before the workflow returns, and visibility lags
    // a little behind that: give it a moment, but every workflow must close.
    const query = `SequenceId = "${sequenceId}" AND ExecutionStatus = "Running"`;
    const running = async () => (await options.temporal!.workflow.count(query)).count;
    await eventually(async () => (await running()) === 0, {
      timeoutMs: 60_000,
      intervalMs: 1_000,
      what: 'every enrolment workflow closed',
    }).catch(() => undefined);
    expect(await running(), 'enrolment workflows still running').toBe(0);
    // One run per enrolment: a workflow started twice would be a second, needless enrolment run.
    const runs = async () => (await options.temporal!.workflow.count(`SequenceId = "${sequenceId}"`)).count;
    await eventually(async () => (await runs()) >= leads, { timeoutMs: 30_000, intervalMs: 1_000, what: 'visibility of every run' }).catch(
      () => undefined,
    );
    expect(await runs(), 'enrolment workflow runs').toBe(leads);
  }
  return figures;
}

/** One line per fault test, collected in the README and the report. */
export function recordFigures(fault: string, figures: ExactlyOnceFigures & Record<string, unknown>) {
  console.log(`[figures] ${fault}: ${JSON.stringify(figures)}`);
}

/** Waits for `work`, but fails at once with the process's last output if it dies meanwhile. */
export async function whileAlive<T>(
  proc: { exited: Promise<number | null>; output(): string },
  what: string,
  work: Promise<T>,
): Promise<T> {
  const died = proc.exited.then((code) => {
    throw new Error(`${what} exited (${code}) during the run:\n${proc.output().slice(-4000)}`);
  });
  return Promise.race([work, died]);
}
