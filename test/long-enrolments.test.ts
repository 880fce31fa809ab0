import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { enrolments } from '../db/schema.js';
import { enrolmentWorkflowId, pauseSignal, resumeSignal, stateQuery } from '../workflows/contract.js';
import { enrolmentWorkflow } from '../workflows/enrolment.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, type TestService } from './helpers/service.js';
import { startTimeSkippingService } from './helpers/time-skipping.js';

let env: TestWorkflowEnvironment;
let service: TestService;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ env, service, stop } = await startTimeSkippingService());
});
afterAll(() => stop());

const DAY = 24 * 3_600_000;
const twentySteps = Array.from({ length: 20 }, (_, i) => ({ delay: { amount: i === 0 ? 0 : 2, unit: 'days' }, subject: `Step ${i + 1}` }));

describe('a 20-step enrolment', () => {
  it('sends all 20 steps in order and keeps its history small', async () => {
    const { createSequence, createLead, enrolLead, sentMessages } = await asNewAccount(service);
    const sequence = await createSequence({ steps: twentySteps });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    const handle = env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id));
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 20 });
    const sent = await sentMessages(enrolment.id);
    expect(sent.map((m) => m.stepId)).toEqual(sequence.steps.map((s) => s.id));
    // One thread: every follow-up replies to the one before.
    expect(sent.map((m) => m.subject)).toEqual(['Step 1', ...Array(19).fill('Re: Step 1')]);
    const history = await handle.fetchHistory();
    const length = history.events!.length;
    console.log(`[figures] history of a 20-step enrolment: ${length} events (${(length / 20).toFixed(1)} per sent step)`);
    expect(length).toBeLessThan(20 * 15);
  }, 120_000);
});

describe('an enrolment whose history outgrows its bound', () => {
  it('continues as new, carrying its state, and loses no signal sent around the switch', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: twentySteps.slice(0, 8) });
    const lead = await fixture.createLead();
    // The enrolment row as the API would write it, with a workflow whose bound is tiny.
    const id = randomUUID();
    await service.database.db
      .insert(enrolments)
      .values({ id, accountId: fixture.account.id, sequenceId: sequence.id, leadId: lead.id, replyToken: randomUUID().replace(/-/g, '') });
    const handle = await env.client.workflow.start(enrolmentWorkflow, {
      workflowId: enrolmentWorkflowId(id),
      taskQueue: service.config.TEMPORAL_TASK_QUEUE,
      args: [{ enrolmentId: id, historyBound: 20 }],
    });
    await eventually(async () => (await handle.query(stateQuery)).sentCount >= 1, { what: 'step 1' });
    await env.sleep(5 * DAY);
    // Pause right around a continue-as-new, then resume: both must take effect.
    await handle.signal(pauseSignal);
    await fixture.waitForStatus(id, 'paused');
    await env.sleep(10 * DAY);
    const whilePaused = (await handle.query(stateQuery)).sentCount;
    await handle.signal(resumeSignal);
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'completed', sentCount: 8 });
    expect(whilePaused).toBeLessThan(8);
    const firstRun = await env.client.workflow.getHandle(enrolmentWorkflowId(id), handle.firstExecutionRunId).fetchHistory();
    expect(firstRun.events!.at(-1)!.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    expect(await fixture.sentMessages(id)).toHaveLength(8);
  }, 120_000);
});
