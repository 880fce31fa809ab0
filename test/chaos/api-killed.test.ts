import { and, count, countDistinct, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolments } from '../../db/schema.js';
import { enrolmentWorkflowId } from '../../workflows/contract.js';
import { spawnApi } from '../helpers/api-process.js';
import { assertExactlyOnce, chaosSize, importLeads, recordFigures, sequenceEmails, waitForEnrolments } from '../helpers/chaos.js';
import { asNewAccount } from '../helpers/fixtures.js';
import type { ResendSink } from '../helpers/resend-sink.js';
import { apiClient, eventually, startServiceWithSink, type ServiceWithSink, type TestService } from '../helpers/service.js';

const LEADS = chaosSize(1_000, 10_000);

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
const apis: Awaited<ReturnType<typeof spawnApi>>[] = [];

beforeAll(async () => {
  // The worker runs here; the API that takes the bulk request is a process the test kills.
  ({ service, sink } = started = await startServiceWithSink({ poolSize: 20 }));
});
afterAll(async () => {
  for (const a of apis) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  await Promise.all(apis.map((a) => a.exited));
  await started?.stop();
});

describe(`the API killed with kill -9 halfway through a bulk enrolment of ${LEADS} leads`, () => {
  it('enrols every lead exactly once when the same request is retried, with one first-step email per lead', async () => {
    const started = Date.now();
    const fixture = await asNewAccount(service);
    // One step: many enrolments have completed by the retry, so starting any workflow a second
    // time (not just a running one) would show.
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Welcome' }] });
    const leadIds = await importLeads(fixture, LEADS, `bulk-killed-${sequence.id}`);
    const db = service.database.db;
    const body = { leadIds };
    const headers = { 'idempotency-key': `bulk-killed-${sequence.id}` };

    const first = await spawnApi(service.config);
    apis.push(first);
    await first.ready;
    let firstAnswered = false;
    const firstRequest = apiClient(first.baseUrl, fixture.apiKey)(
      'POST',
      `/v1/sequences/${sequence.id}/enrolments/bulk`,
      body,
      headers,
    ).then(
      () => (firstAnswered = true),
      () => undefined,
    );
    // Halfway: the enrolments are committed and the API is starting their workflows, in the
    // request's order. Kill it once the workflow of the lead a quarter of the way in exists.
    const enrolmentOf = async (leadId: string) =>
      (
        await db
          .select({ id: enrolments.id })
          .from(enrolments)
          .where(and(eq(enrolments.sequenceId, sequence.id), eq(enrolments.leadId, leadId)))
      )[0]?.id;
    const workflowExists = (enrolmentId: string) =>
      service.temporal.workflow
        .getHandle(enrolmentWorkflowId(enrolmentId))
        .describe()
        .then(
          () => true,
          () => false,
        );
    const quarter = await eventually(() => enrolmentOf(leadIds[Math.floor(LEADS / 4)]!), {
      timeoutMs: 300_000,
      intervalMs: 10,
      what: 'committed enrolments',
    });
    await eventually(() => workflowExists(quarter), { timeoutMs: 300_000, intervalMs: 10, what: 'a quarter of the workflows started' });
    first.child.kill('SIGKILL');
    await first.exited;
    await firstRequest;
    expect(firstAnswered, 'the API died before answering').toBe(false);
    expect(await workflowExists((await enrolmentOf(leadIds.at(-1)!))!), 'the last workflow had not started at the kill').toBe(false);
    const emailsAtKill = sequenceEmails(sink, sequence.id).length;

    const second = await spawnApi(service.config);
    apis.push(second);
    await second.ready;
    // The portal retries a failed request with the same key; a 5xx (say, the database refusing
    // connections on a busy machine) is retried again, but only a few times, and counted.
    const retryOnce = () =>
      apiClient(second.baseUrl, fixture.apiKey)('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, body, headers);
    let retry = await retryOnce();
    let retries = 1;
    while (retry.status >= 500 && retries < 3) {
      console.log(`[chaos] retry ${retries} answered ${retry.status}:\n${second.output().slice(-3000)}`);
      retry = await retryOnce();
      retries++;
    }
    expect(retry.status, `${JSON.stringify(retry.body).slice(0, 300)}\n${second.output().slice(-3000)}`).toBe(200);
    expect(retry.body).toMatchObject({ enrolled: LEADS, skipped: 0 });

    const [row] = await db
      .select({ n: count(), leads: countDistinct(enrolments.leadId) })
      .from(enrolments)
      .where(eq(enrolments.sequenceId, sequence.id));
    expect(row).toEqual({ n: LEADS, leads: LEADS });
    const answered = new Map(retry.body.results.map((r: { leadId: string; enrolmentId: string }) => [r.leadId, r.enrolmentId]));
    const stored = await db
      .select({ id: enrolments.id, leadId: enrolments.leadId })
      .from(enrolments)
      .where(eq(enrolments.sequenceId, sequence.id));
    expect(
      stored.filter((e) => answered.get(e.leadId) !== e.id),
      'answer and database disagree',
    ).toEqual([]);

    await waitForEnrolments(db, sequence.id, 'completed', LEADS, chaosSize(900_000, 1_800_000));
    const figures = await assertExactlyOnce({ sink, db, sequenceId: sequence.id, leads: LEADS, steps: 1, temporal: service.temporal });
    recordFigures('API kill -9 during bulk enrolment', {
      ...figures,
      retries,
      emailsAtKill,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, 2_400_000);
});
