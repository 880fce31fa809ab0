import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequences, steps } from '../db/schema.js';
import { enrolmentWorkflowId, pauseSignal, replySignal, rescheduleSignal, resumeSignal, stateQuery } from '../workflows/contract.js';
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

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const days = (amount: number) => ({ amount, unit: 'days' });

const handleOf = (enrolmentId: string) => env.client.workflow.getHandle(enrolmentWorkflowId(enrolmentId));
const stateOf = (enrolmentId: string) => handleOf(enrolmentId).query(stateQuery);
async function waitForSent(enrolmentId: string, count: number) {
  return eventually(
    async () => {
      const state = await stateOf(enrolmentId);
      return state.sentCount === count && state;
    },
    { what: `${count} email(s) sent` },
  );
}

describe('a lead in a 3-step sequence with day-long delays', () => {
  it('gets step 1 at once, step 2 a day later, step 3 two days after that, then completes', async () => {
    const { createSequence, createLead, enrolLead, sentMessages } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: days(0) }, { delay: days(1) }, { delay: days(2) }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);

    const afterFirst = await waitForSent(enrolment.id, 1);
    expect(afterFirst.nextStep).toMatchObject({ number: 2, of: 3 });
    const firstDue = Date.parse(afterFirst.nextStep!.dueAt);

    await env.sleep(DAY - HOUR);
    expect((await stateOf(enrolment.id)).sentCount).toBe(1);
    await env.sleep(2 * HOUR);
    const afterSecond = await waitForSent(enrolment.id, 2);
    expect(Date.parse(afterSecond.nextStep!.dueAt) - firstDue).toBeGreaterThanOrEqual(2 * DAY);

    const result = await handleOf(enrolment.id).result();
    expect(result).toMatchObject({ status: 'completed', sentCount: 3 });
    const sent = await sentMessages(enrolment.id);
    expect(sent.map((m) => m.stepId)).toEqual(sequence.steps.map((s) => s.id));
  });
});

type Signal = 'pause' | 'resume' | 'stop' | 'reply' | 'unsubscribe' | 'bounce';
const expected: Record<'waiting' | 'paused', Record<Signal, string>> = {
  waiting: { pause: 'paused', resume: 'active', stop: 'stopped', reply: 'replied', unsubscribe: 'unsubscribed', bounce: 'bounced' },
  paused: { pause: 'paused', resume: 'active', stop: 'stopped', reply: 'replied', unsubscribe: 'unsubscribed', bounce: 'bounced' },
};

describe.each(['waiting', 'paused'] as const)('an enrolment %s for its next step', (state) => {
  it.each(Object.entries(expected[state]) as [Signal, string][])(
    'on the %s signal becomes %s in the workflow and the database',
    async (signal, status) => {
      const { createSequence, createLead, enrolLead, waitForStatus, sentMessages } = await asNewAccount(service);
      const sequence = await createSequence({ steps: [{ delay: days(0) }, { delay: days(3) }] });
      const enrolment = await enrolLead(sequence.id, (await createLead()).id);
      await waitForSent(enrolment.id, 1);
      if (state === 'paused') {
        await handleOf(enrolment.id).signal(pauseSignal);
        await waitForStatus(enrolment.id, 'paused');
      }
      await handleOf(enrolment.id).signal(signal);
      await eventually(async () => (await stateOf(enrolment.id)).status === status, { what: `workflow status ${status}` });
      await waitForStatus(enrolment.id, status);
      if (status !== 'active') {
        // Nothing more is sent, however long we wait.
        await env.sleep(5 * DAY);
        expect(await sentMessages(enrolment.id)).toHaveLength(1);
      }
    },
  );
});

describe('a paused enrolment resumed after its step fell due', () => {
  it('sends the step at once', async () => {
    const { createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: days(0) }, { delay: days(1) }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    await waitForSent(enrolment.id, 1);
    await handleOf(enrolment.id).signal(pauseSignal);
    await waitForStatus(enrolment.id, 'paused');
    await env.sleep(3 * DAY);
    expect((await stateOf(enrolment.id)).sentCount).toBe(1);
    await handleOf(enrolment.id).signal(resumeSignal);
    await waitForSent(enrolment.id, 2);
    await waitForStatus(enrolment.id, 'completed');
  });
});

describe('a reply, by the sequence’s on-reply setting', () => {
  it.each([
    ['pause', 'paused', 1],
    ['continue', 'completed', 2],
  ] as const)('%s: the enrolment becomes %s after %i email(s)', async (onReply, status, emails) => {
    const { createSequence, createLead, enrolLead, waitForStatus, sentMessages } = await asNewAccount(service);
    const sequence = await createSequence({ onReply, steps: [{ delay: days(0) }, { delay: days(1) }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    await waitForSent(enrolment.id, 1);
    await handleOf(enrolment.id).signal(replySignal);
    if (status === 'paused') await waitForStatus(enrolment.id, 'paused');
    else await handleOf(enrolment.id).result();
    await env.sleep(2 * DAY);
    expect(await waitForStatus(enrolment.id, status)).toMatchObject({ repliedAt: expect.any(Date) });
    expect(await sentMessages(enrolment.id)).toHaveLength(emails);
  });
});

describe('editing a sequence while enrolments wait', () => {
  async function waitingOnStep2(delay: { amount: number; unit: string }) {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ delay: days(0) }, { delay, subject: 'Old subject' }] });
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    await waitForSent(enrolment.id, 1);
    return { ...fixture, sequence, enrolment, step2: sequence.steps[1]! };
  }

  it('honours a longer delay', async () => {
    const { api, sequence, enrolment, step2 } = await waitingOnStep2(days(1));
    const before = Date.parse((await stateOf(enrolment.id)).nextStep!.dueAt);
    await api('PATCH', `/v1/sequences/${sequence.id}/steps/${step2.id}`, { delay: days(5) });
    await eventually(async () => Date.parse((await stateOf(enrolment.id)).nextStep!.dueAt) >= before + 4 * DAY, {
      what: 'the later due time',
    });
    await env.sleep(2 * DAY);
    expect((await stateOf(enrolment.id)).sentCount).toBe(1);
  });

  it('honours a shorter delay', async () => {
    const { api, sequence, enrolment, step2 } = await waitingOnStep2(days(30));
    await api('PATCH', `/v1/sequences/${sequence.id}/steps/${step2.id}`, { delay: { amount: 0, unit: 'minutes' } });
    await waitForSent(enrolment.id, 2);
  });

  it('sends the edited content of an unsent step', async () => {
    const { api, sequence, enrolment, step2, sentMessages } = await waitingOnStep2(days(1));
    await api('PATCH', `/v1/sequences/${sequence.id}/steps/${step2.id}`, { body: 'The new body.' });
    await handleOf(enrolment.id).result();
    const [, second] = await sentMessages(enrolment.id);
    expect([second!.stepId, second!.text]).toEqual([step2.id, expect.stringMatching(/^The new body\./)]);
  });

  it('skips a step deleted before it was sent and sends the next one', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({
      steps: [{ delay: days(0) }, { delay: days(2), subject: 'Deleted' }, { delay: days(1), subject: 'Third' }],
    });
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    await waitForSent(enrolment.id, 1);
    expect((await fixture.api('DELETE', `/v1/sequences/${sequence.id}/steps/${sequence.steps[1]!.id}`)).status).toBe(204);
    await eventually(async () => (await stateOf(enrolment.id)).nextStep?.subject === 'Third', { what: 'the third step planned' });
    await handleOf(enrolment.id).result();
    expect((await fixture.sentMessages(enrolment.id)).map((m) => m.stepId)).toEqual([sequence.steps[0]!.id, sequence.steps[2]!.id]);
  });
});

describe('a sequence paused just as an enrolment’s last step goes out', () => {
  // The pause can land between the send and the plan that follows it: the plan then finds no
  // step left and the sequence paused. That state is written here directly, then planned.
  it('completes the enrolment instead of pausing it with no step to resume to', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ delay: days(0) }, { delay: days(3) }] });
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    await waitForSent(enrolment.id, 1);
    const { db } = service.database;
    await db.update(steps).set({ deletedAt: new Date() }).where(eq(steps.id, sequence.steps[1]!.id));
    await db.update(sequences).set({ status: 'paused' }).where(eq(sequences.id, sequence.id));

    await handleOf(enrolment.id).signal(rescheduleSignal);
    const settled = await eventually(
      async () => {
        const state = await stateOf(enrolment.id);
        return state.status !== 'active' && state;
      },
      { what: 'the enrolment to leave active' },
    );
    expect(settled).toMatchObject({ status: 'completed', sentCount: 1 });
    expect(await fixture.waitForStatus(enrolment.id, 'completed')).toMatchObject({ nextStepId: null, nextDueAt: null });
  });
});

describe('a send window across a daylight-saving change', () => {
  it('holds a step due on the Sunday of the change until Monday 09:00 in the lead’s zone, on the new offset', async () => {
    const zone = 'Europe/Paris';
    // The next clock change in Paris at least a week away, found from "now" so the test holds
    // whenever it runs. Enrol at 10:00 Paris time, so step 1 falls due inside the window at
    // whatever time of day the test runs.
    const started = DateTime.fromMillis(await env.currentTimeMs(), { zone });
    await env.sleep(started.plus({ days: 1 }).set({ hour: 10, minute: 0, second: 0, millisecond: 0 }).toMillis() - started.toMillis());
    const now = DateTime.fromMillis(await env.currentTimeMs(), { zone });
    let change = now.plus({ days: 7 }).startOf('hour');
    while (change.offset === change.minus({ hours: 1 }).offset) change = change.plus({ hours: 1 });
    const friday = change.startOf('day').minus({ days: change.weekday === 7 ? 2 : change.weekday + 2 });
    const firstDelayDays = Math.round(friday.diff(now.startOf('day'), 'days').days);

    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({
      sendWindow: { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' },
      steps: [{ delay: days(firstDelayDays) }, { delay: days(2) }],
    });
    const lead = await fixture.createLead({ timezone: zone });
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    await env.sleep(Date.parse(friday.endOf('day').toISO()!) - (await env.currentTimeMs()));
    const afterFirst = await waitForSent(enrolment.id, 1);

    const due = DateTime.fromISO(afterFirst.nextStep!.dueAt, { zone });
    expect(due.weekday).toBe(1);
    expect([due.hour, due.minute]).toEqual([9, 0]);
    expect(due.offset).not.toBe(friday.offset);
    expect(due.toMillis()).toBeGreaterThan(change.toMillis());
    expect(await handleOf(enrolment.id).result()).toMatchObject({ status: 'completed', sentCount: 2 });
  });
});

describe('a reply or an unsubscribe recorded just before the next step falls due', () => {
  it.each([
    ['reply', 'replied'],
    ['unsubscribe', 'unsubscribed'],
  ] as const)('%s: the lead does not receive that step, even before the workflow hears of it', async (kind, status) => {
    const { createSequence, createLead, enrolLead, waitForStatus, sentMessages } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: days(0) }, { delay: days(1) }] });
    const lead = await createLead();
    const enrolment = await enrolLead(sequence.id, lead.id);
    await waitForSent(enrolment.id, 1);
    // The record is in PostgreSQL; its signal is still on its way (the worst moment for a race).
    const { enrolments, leads } = await import('../db/schema.js');
    const { eq } = await import('drizzle-orm');
    if (kind === 'reply')
      await service.database.db.update(enrolments).set({ repliedAt: new Date() }).where(eq(enrolments.id, enrolment.id));
    else await service.database.db.update(leads).set({ unsubscribedAt: new Date() }).where(eq(leads.id, lead.id));
    await env.sleep(DAY + HOUR);
    await waitForStatus(enrolment.id, status);
    expect(await sentMessages(enrolment.id)).toHaveLength(1);
  });
});

describe('an enrolment in the Temporal UI', () => {
  it('shows the sequence’s name and the step’s subject as written, never as a link or markup', async () => {
    const { createSequence, createLead, enrolLead } = await asNewAccount(service);
    const sequence = await createSequence({
      name: '[Renew now](https://evil.test/login) <b>Q4</b>',
      steps: [{ delay: days(0) }, { subject: '**Act** [here](https://evil.test)', delay: days(2) }],
    });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    await waitForSent(enrolment.id, 1);
    const summary = await (await handleOf(enrolment.id).describe()).staticSummary();
    expect(summary).toContain('\\[Renew now\\]\\(https\\:\\/\\/evil\\.test\\/login\\) \\<b\\>Q4\\<\\/b\\>');
    const metadata = await handleOf(enrolment.id).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain("'\\*\\*Act\\*\\* \\[here\\]\\(https\\:\\/\\/evil\\.test\\)'");
  }, 60_000);
});
