import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentWorkflowId, stateQuery, stopSignal } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { and, count, eq, inArray, isNull } from 'drizzle-orm';
import { enrolments } from '../db/schema.js';
import { eventually, startService, type TestService } from './helpers/service.js';
import { statusCounts } from '../api/services/enrolments.js';

let service: TestService;
beforeAll(async () => {
  service = await startService();
});
afterAll(() => service.stop());

describe('a lead enrolled in a one-step sequence with no delay', () => {
  it('receives the email within seconds and the enrolment completes', async () => {
    const { createSequence, createLead, enrolLead, waitForStatus, sentMessages } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ subject: 'Hi {{ first_name }}', body: 'Nice to meet you, {{ first_name }}.' }] });
    const lead = await createLead({ firstName: 'Grace' });
    const enrolment = await enrolLead(sequence.id, lead.id);
    expect(enrolment.status).toBe('active');
    await waitForStatus(enrolment.id, 'completed');
    const sent = await sentMessages(enrolment.id);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ subject: 'Hi Grace', toEmail: lead.email, status: 'sent' });
  });

  it('is the workflow enrolment-<id>, whose result reports the step sent', async () => {
    const { createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence();
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    const result = await service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    expect(result).toMatchObject({ status: 'completed', sentCount: 1, lastStepId: sequence.steps[0]!.id });
  });
});

describe('enrolment refusals', () => {
  it('refuses a lead with no email address', async () => {
    const { api, createSequence, createLead } = await asNewAccount(service);
    const sequence = await createSequence();
    const lead = await createLead({ email: null });
    const res = await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'no_email', field: 'leadId' });
  });

  it('refuses a lead already active in the sequence', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 3, unit: 'days' } }] });
    const lead = await createLead();
    await enrolLead(sequence.id, lead.id);
    const res = await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('already_enrolled');
  });

  it('refuses a lead active in another sequence unless the account allows parallel enrolment', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const first = await createSequence({ steps: [{ delay: { amount: 3, unit: 'days' } }] });
    const second = await createSequence({ steps: [{ delay: { amount: 3, unit: 'days' } }] });
    const lead = await createLead();
    await enrolLead(first.id, lead.id);
    const refused = await api('POST', `/v1/sequences/${second.id}/enrolments`, { leadId: lead.id });
    expect(refused.body.error.code).toBe('active_in_other_sequence');
    expect((await api('PATCH', '/v1/account', { allowParallelEnrolment: true })).status).toBe(200);
    expect((await api('POST', `/v1/sequences/${second.id}/enrolments`, { leadId: lead.id })).status).toBe(201);
  });

  it('refuses a lead missing a merge field the emails print without a default, naming it', async () => {
    const { api, createSequence, createLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ body: 'How is {{ company }} doing, {{ first_name | default: "friend" }}?' }] });
    const lead = await createLead({ company: '' });
    const res = await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'missing_merge_fields', message: expect.stringContaining('company') });
  });

  it('refuses beyond the plan limit of active enrolments', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service, {
      limits: { maxSequences: null, maxStepsPerSequence: null, maxActiveEnrolments: 1, maxEmailsPerDay: null },
    });
    const sequence = await createSequence({ steps: [{ delay: { amount: 3, unit: 'days' } }] });
    await enrolLead(sequence.id, (await createLead()).id);
    const res = await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: (await createLead()).id });
    expect(res.body.error.code).toBe('plan_limit_active_enrolments');
  });

  it('refuses an unsubscribed lead', async () => {
    const { api, createSequence, createLead } = await asNewAccount(service);
    const sequence = await createSequence();
    const lead = await createLead();
    const { leads } = await import('../db/schema.js');
    const { eq } = await import('drizzle-orm');
    await service.database.db.update(leads).set({ unsubscribedAt: new Date() }).where(eq(leads.id, lead.id));
    const res = await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id });
    expect(res.body.error.code).toBe('unsubscribed');
  });
});

describe('pausing, resuming and stopping one enrolment', () => {
  it('pause answers with the status already in the database, and resume makes it active again', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    const paused = await api('POST', `/v1/enrolments/${enrolment.id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');
    const resumed = await api('POST', `/v1/enrolments/${enrolment.id}/resume`);
    expect(resumed.body.status).toBe('active');
    expect(resumed.body.nextDueAt).not.toBeNull();
  });

  it('stop is final: a second stop answers 409 and the lead can be enrolled again', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const lead = await createLead();
    const enrolment = await enrolLead(sequence.id, lead.id);
    expect((await api('POST', `/v1/enrolments/${enrolment.id}/stop`)).body.status).toBe('stopped');
    const again = await api('POST', `/v1/enrolments/${enrolment.id}/stop`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('enrolment_ended');
    expect((await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id })).status).toBe(201);
  });

  it('a stop signalled straight to the workflow (as from the Temporal CLI) reaches the database', async () => {
    const { createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    await service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).signal(stopSignal);
    const row = await waitForStatus(enrolment.id, 'stopped', 5_000);
    expect(row.endedReason).toBe('stopped by a user');
  });

  it('the timeline lists enrolment, the email and the status changes in order', async () => {
    const { api, createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence();
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    await waitForStatus(enrolment.id, 'completed');
    const res = await api('GET', `/v1/enrolments/${enrolment.id}`);
    expect(res.body.timeline.map((e: { type: string }) => e.type)).toEqual(['enrolled', 'email_sent', 'status_changed']);
    expect(res.body.messages).toHaveLength(1);
  });

  it('names the reply address its emails carry, for support staff', async () => {
    const { api, createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence();
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    await waitForStatus(enrolment.id, 'completed');
    const { messages } = await import('../db/schema.js');
    const { eq } = await import('drizzle-orm');
    const [sent] = await service.database.db.select().from(messages).where(eq(messages.enrolmentId, enrolment.id));
    const res = await api('GET', `/v1/enrolments/${enrolment.id}`);
    expect(res.body.replyTo).toMatch(new RegExp(`^r-[0-9a-f]+@${service.config.INBOUND_DOMAIN.replaceAll('.', '\\.')}$`));
    expect(res.body.replyTo).toBe(sent!.replyTo);
  });
});

describe('an enrolment whose workflow never started (the API died after committing it)', () => {
  it('is started by the sweeper, and can be paused through the API meanwhile', async () => {
    const { api, account, createSequence, createLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const { enrolments } = await import('../db/schema.js');
    const { randomUUID } = await import('node:crypto');
    const { startPendingEnrolments } = await import('../api/services/workflow-starter.js');
    const orphan = async () => {
      const id = randomUUID();
      const lead = await createLead();
      await service.database.db.insert(enrolments).values({
        id,
        accountId: account.id,
        sequenceId: sequence.id,
        leadId: lead.id,
        replyToken: randomUUID().replace(/-/g, ''),
        enrolledAt: new Date(Date.now() - 60_000),
      });
      return id;
    };
    const paused = await orphan();
    const res = await api('POST', `/v1/enrolments/${paused}/pause`);
    expect(res.body.status).toBe('paused');
    const swept = await orphan();
    expect(
      await startPendingEnrolments({ db: service.database.db, temporal: service.temporal, config: service.config }),
    ).toBeGreaterThanOrEqual(1);
    const state = await service.temporal.workflow.getHandle(enrolmentWorkflowId(swept)).query(stateQuery);
    expect(state.status).toBe('active');
    await waitForStatus(paused, 'paused');
  });
});

describe('a bulk enrolment whose request is still starting its workflows', () => {
  // The request's batch holds a lease (starts_progressed_at) it refreshes as it records starts.
  const sweep = async () => {
    const { startPendingEnrolments } = await import('../api/services/workflow-starter.js');
    await startPendingEnrolments({ db: service.database.db, temporal: service.temporal, config: service.config });
  };
  const batchOfUnstarted = async (leaseAgeSeconds: number) => {
    const { account, createSequence, createLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const { enrolmentBatches } = await import('../db/schema.js');
    const { randomUUID } = await import('node:crypto');
    const { sql } = await import('drizzle-orm');
    const batchId = randomUUID();
    await service.database.db.insert(enrolmentBatches).values({
      id: batchId,
      accountId: account.id,
      sequenceId: sequence.id,
      startsProgressedAt: sql`now() - make_interval(secs => ${leaseAgeSeconds})`,
    });
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) {
      await service.database.db.insert(enrolments).values({
        id,
        accountId: account.id,
        sequenceId: sequence.id,
        leadId: (await createLead()).id,
        replyToken: randomUUID().replace(/-/g, ''),
        batchId,
        enrolledAt: new Date(Date.now() - 120_000),
      });
    }
    return { ids, batchId };
  };
  /** What a retried request with the batch's Idempotency-Key does: start the rows still unstarted. */
  const retryStarts = async ({ ids, batchId }: { ids: string[]; batchId: string }) => {
    const { selectStartableEnrolments } = await import('../db/enrolment-queries.js');
    const { startEnrolmentWorkflows } = await import('../api/services/workflow-starter.js');
    const rows = await selectStartableEnrolments(service.database.db).where(inArray(enrolments.id, ids));
    return startEnrolmentWorkflows({ db: service.database.db, temporal: service.temporal, config: service.config }, rows, { batchId });
  };
  const lease = async (batchId: string) => {
    const { enrolmentBatches } = await import('../db/schema.js');
    const [batch] = await service.database.db
      .select({ at: enrolmentBatches.startsProgressedAt })
      .from(enrolmentBatches)
      .where(eq(enrolmentBatches.id, batchId));
    return batch!.at;
  };
  const unstarted = async (ids: string[]) =>
    (
      await service.database.db
        .select({ n: count() })
        .from(enrolments)
        .where(and(inArray(enrolments.id, ids), isNull(enrolments.workflowStartedAt)))
    )[0]!.n;

  it('is left to that request by the sweeper while its progress is recent', async () => {
    const { ids } = await batchOfUnstarted(5);
    await sweep();
    expect(await unstarted(ids)).toBe(2);
  });

  it('is left to that request by a retry of it, too', async () => {
    const batch = await batchOfUnstarted(5);
    expect(await retryStarts(batch)).toEqual({ started: 0, deferred: 0 });
    expect(await unstarted(batch.ids)).toBe(2);
    expect(await lease(batch.batchId)).not.toBeNull();
  });

  it('is started by a retry once the lease is stale, which releases it when done', async () => {
    const batch = await batchOfUnstarted(45);
    expect(await retryStarts(batch)).toEqual({ started: 2, deferred: 0 });
    expect(await unstarted(batch.ids)).toBe(0);
    expect(await lease(batch.batchId)).toBeNull();
  });

  it('is taken over by the sweeper once its progress is older than the grace (the request died)', async () => {
    const { ids } = await batchOfUnstarted(45);
    await sweep();
    expect(await unstarted(ids)).toBe(0);
    const state = await service.temporal.workflow.getHandle(enrolmentWorkflowId(ids[0]!)).query(stateQuery);
    expect(state.status).toBe('active');
  });
});

describe('a reply marked through the API', () => {
  it('ends the enrolment as replied when the sequence stops on reply', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    const res = await api('POST', `/v1/enrolments/${enrolment.id}/reply`);
    expect(res.body).toMatchObject({ status: 'replied', repliedAt: expect.any(String) });
  });
});

describe('listing a sequence’s enrolments', () => {
  it('answers the page and its counts from one snapshot, even right after a sequence-wide pause', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    for (let i = 0; i < 3; i++) await enrolLead(sequence.id, (await createLead()).id);
    // Counted while all three are active: an answer cached from now must not outlive the pause.
    expect((await api('GET', `/v1/sequences/${sequence.id}/enrolments`)).body.counts).toEqual({ active: 3 });
    await api('POST', `/v1/sequences/${sequence.id}/pause`);
    const answers: { data: { status: string }[]; counts: Record<string, number> }[] = [];
    await eventually(
      async () => {
        const { body } = await api('GET', `/v1/sequences/${sequence.id}/enrolments`);
        answers.push(body);
        return body.data.every((e: { status: string }) => e.status === 'paused');
      },
      { what: 'every enrolment paused' },
    );
    for (const answer of answers) {
      const listed: Record<string, number> = {};
      for (const e of answer.data) listed[e.status] = (listed[e.status] ?? 0) + 1;
      expect(answer.counts).toEqual(listed);
    }
  });

  it('filters by status, pages, and counts per status', async () => {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await enrolLead(sequence.id, (await createLead()).id)).id);
    await api('POST', `/v1/enrolments/${ids[0]}/pause`);
    const page1 = await api('GET', `/v1/sequences/${sequence.id}/enrolments?limit=2`);
    expect(page1.body.data).toHaveLength(2);
    expect(page1.body.counts).toEqual({ active: 2, paused: 1 });
    const page2 = await api('GET', `/v1/sequences/${sequence.id}/enrolments?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.nextCursor).toBeNull();
    // Counts describe the whole sequence: they come with the first page only.
    expect(page2.body).not.toHaveProperty('counts');
    const paused = await api('GET', `/v1/sequences/${sequence.id}/enrolments?status=paused`);
    expect(paused.body.data.map((e: { id: string }) => e.id)).toEqual([ids[0]]);
  });

  /**
   * One enrolment waiting in a sequence, its counts (the sequence's, and the list's), and a
   * status change made as a worker makes it.
   */
  async function oneWaitingEnrolment() {
    const { api, createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    return {
      counts: async () => (await api('GET', `/v1/sequences/${sequence.id}`)).body.enrolmentCounts,
      listCounts: async () => (await api('GET', `/v1/sequences/${sequence.id}/enrolments`)).body.counts,
      // Straight to the database, not through this API process.
      completeElsewhere: () => service.database.db.update(enrolments).set({ status: 'completed' }).where(eq(enrolments.id, enrolment.id)),
    };
  }

  it('lists a status change made elsewhere (a worker, another API process) at once', async () => {
    const { counts, listCounts, completeElsewhere } = await oneWaitingEnrolment();
    expect(await counts()).toEqual({ active: 1 });
    await completeElsewhere();
    expect(await listCounts()).toEqual({ completed: 1 });
  });

  it('shows a status change made elsewhere in the sequence’s counts at once', async () => {
    const { counts, completeElsewhere } = await oneWaitingEnrolment();
    expect(await counts()).toEqual({ active: 1 });
    await completeElsewhere();
    expect(await counts()).toEqual({ completed: 1 });
  });

  it('keeps counts that agree with counting the enrolments, through bulk enrolment, bulk status changes and deletes', async () => {
    const { createSequence, createLead, api } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const leadIds = await Promise.all(Array.from({ length: 6 }, async () => (await createLead()).id));
    expect((await api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds })).status).toBe(200);
    const db = service.database.db;
    const ids = (await db.select({ id: enrolments.id }).from(enrolments).where(eq(enrolments.sequenceId, sequence.id))).map((r) => r.id);
    // Written as any process could: several rows a statement, some changing nothing.
    await db
      .update(enrolments)
      .set({ status: 'paused' })
      .where(inArray(enrolments.id, ids.slice(0, 3)));
    await db
      .update(enrolments)
      .set({ status: 'paused' })
      .where(inArray(enrolments.id, ids.slice(0, 4)));
    await db.update(enrolments).set({ nextDueAt: new Date() }).where(eq(enrolments.sequenceId, sequence.id));
    await db.delete(enrolments).where(eq(enrolments.id, ids[5]!));
    const counted = await db
      .select({ status: enrolments.status, n: count() })
      .from(enrolments)
      .where(eq(enrolments.sequenceId, sequence.id))
      .groupBy(enrolments.status);
    const expected = Object.fromEntries(counted.map((r) => [r.status, r.n]));
    expect(expected).toEqual({ active: 1, paused: 4 });
    expect(await statusCounts(db, sequence.id)).toEqual(expected);
    expect((await api('GET', `/v1/sequences/${sequence.id}/enrolments`)).body.counts).toEqual(expected);
  });
});
