import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ControlAction, EnrolmentState } from '../../workflows/contract.js';
import {
  bounceSignal,
  controlUpdate,
  pauseSignal,
  replySignal,
  rescheduleSignal,
  resumeSignal,
  stateQuery,
  stopSignal,
  unsubscribeSignal,
} from '../../workflows/contract.js';
import { EnrolmentStatus as EnrolmentStatusKey } from '../../workflows/search-attributes.js';
import {
  controlDuringFirstSend,
  DAY,
  FakeEnrolment,
  HOUR,
  MINUTE,
  sendPlanningNext,
  startWorkflowLayer,
  until,
  type Script,
  type WorkflowLayer,
} from './harness.js';

// Every branch of workflows/enrolment.ts, with the activities stubbed (see harness.ts). Time is
// the test server's: days pass when a test awaits a result or calls env.sleep.

let layer: WorkflowLayer;
beforeAll(async () => {
  layer = await startWorkflowLayer();
});
afterEach(({ task }) => layer.reset({ failed: task.result?.state === 'fail' }));
afterAll(() => layer?.stop());

/** A fake enrolment, started, with its workflow handle. */
async function enrolled(delays: number[], script: Script = {}, options: { historyBound?: number } = {}) {
  const fake = new FakeEnrolment(delays, script);
  const handle = await layer.enrol(fake, options);
  return { fake, handle };
}
const sent = (fake: FakeEnrolment, count: number) => until(() => fake.sends().length >= count, `${count} send(s)`);
/**
 * `count` steps sent and the next one planned: the workflow is waiting for it. (Only `sent`, and a
 * signal could land before the plan, which makes the order of what follows a race.)
 */
const waiting = (fake: FakeEnrolment, count: number) =>
  until(() => fake.sends().length >= count && fake.plans.length > count, `${count} send(s) and the next step planned`);
const recorded = (fake: FakeEnrolment, status: ReturnType<FakeEnrolment['statuses']>[number]) =>
  until(() => fake.statuses().includes(status), `status ${status} recorded`);
const planned = (fake: FakeEnrolment, count: number) => until(() => fake.plans.length >= count, `${count} plan(s)`);
const dueOf = (fake: FakeEnrolment, plan: number) => Date.parse(fake.plans[plan]!.next!.dueAt);

describe('an enrolment in a three-step sequence', () => {
  it('sends the steps in order, each once it is due and none before', async () => {
    const { fake, handle } = await enrolled([0, DAY, 2 * DAY]);
    await sent(fake, 1);
    await layer.env.sleep(DAY - HOUR);
    expect(fake.sends()).toHaveLength(1);
    await layer.env.sleep(2 * HOUR);
    await sent(fake, 2);
    await layer.env.sleep(2 * DAY - 2 * HOUR);
    expect(fake.sends()).toHaveLength(2);
    await handle.result();

    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0), fake.stepId(1), fake.stepId(2)]);
    fake.sends().forEach((send, i) => {
      const due = dueOf(fake, i);
      expect(Date.parse(send.now)).toBeGreaterThanOrEqual(due);
      expect(Date.parse(send.now)).toBeLessThan(due + MINUTE); // at its time, not whenever
    });
  });

  it('plans the first step from the enrolment and each next one from the previous send', async () => {
    const { fake, handle } = await enrolled([HOUR, DAY, DAY]);
    const result = await handle.result();
    const startTime = (await handle.describe()).startTime.toISOString();
    const previous = fake.callsOf('planNextStep').map((c) => c.input.previousAt);
    expect(previous[0]).toBe(startTime);
    expect(previous).toHaveLength(4);
    for (let i = 1; i < 4; i++) expect(Date.parse(previous[i]!)).toBeGreaterThanOrEqual(Date.parse(fake.sends()[i - 1]!.now));
    expect(previous[3]).toBe(result.lastSentAt);
  });

  it('completes with "all steps sent" when no step is left, and records it', async () => {
    const { fake, handle } = await enrolled([0, DAY, DAY]);
    const result = await handle.result();
    expect(result).toEqual({
      enrolmentId: fake.id,
      status: 'completed',
      endedReason: 'all steps sent',
      sentCount: 3,
      lastStepId: fake.stepId(2),
      lastSentAt: expect.any(String),
      pausedUntil: null,
      nextStep: null,
    });
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'completed', reason: 'all steps sent' }]);
    expect((await handle.describe()).typedSearchAttributes.get(EnrolmentStatusKey)).toBe('completed');
  });

  it('completes at once, sending nothing, when the sequence has no step', async () => {
    const { fake, handle } = await enrolled([]);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 0, lastStepId: null, lastSentAt: null });
    expect(fake.sends()).toEqual([]);
    expect(fake.statuses()).toEqual(['completed']);
  });
});

describe('the state query', () => {
  it('answers the status, what was sent and the next step with its due time', async () => {
    const { fake, handle } = await enrolled([0, 2 * DAY]);
    await waiting(fake, 1);
    const state = await until(async () => {
      const s = await handle.query(stateQuery);
      return s.nextStep?.number === 2 && s;
    }, 'step 2 planned');
    expect(state).toEqual({
      enrolmentId: fake.id,
      status: 'active',
      endedReason: null,
      sentCount: 1,
      lastStepId: fake.stepId(0),
      lastSentAt: fake.callsOf('planNextStep')[1]!.input.previousAt,
      pausedUntil: null,
      nextStep: { stepId: fake.stepId(1), number: 2, of: 2, subject: 'Subject 2', dueAt: fake.plans[1]!.next!.dueAt },
    });
  });

  it('shows no next step for an enrolment paused during a send, not the step just sent', async () => {
    const { fake, handle } = await enrolled([0, DAY], {
      send: async (input, n, self) => {
        if (n === 0) await self.handle!.signal(pauseSignal);
        return { outcome: 'sent', messageId: 'm', sentAt: input.now };
      },
    });
    await recorded(fake, 'paused');
    // What comes next is planned after the resume; until then the plan is the step already sent.
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'paused', sentCount: 1, lastStepId: fake.stepId(0), nextStep: null });
    await handle.signal(resumeSignal);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0), fake.stepId(1)]);
  });

  it('still shows the step a paused enrolment will resume to', async () => {
    const { fake, handle } = await enrolled([0, 2 * DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'paused', nextStep: { stepId: fake.stepId(1) } });
  });
});

describe('an enrolment that is paused', () => {
  it('records the pause, in the database and the search attribute, and sends nothing however long it waits', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'paused', reason: null }]);
    await layer.env.sleep(10 * DAY);
    expect(fake.sends()).toHaveLength(1);
    expect((await handle.query(stateQuery)).status).toBe('paused');
    expect((await handle.describe()).typedSearchAttributes.get(EnrolmentStatusKey)).toBe('paused');
  });

  it('on resume records active, plans again not before now, and sends the overdue step at once (no window)', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    await layer.env.sleep(3 * DAY);
    const plansBefore = fake.plans.length;
    const resumedAt = await layer.env.currentTimeMs();
    await handle.signal(resumeSignal);
    await sent(fake, 2);
    expect(fake.sends()[1]!.stepId).toBe(fake.stepId(1));
    expect(Date.parse(fake.sends()[1]!.now)).toBeGreaterThanOrEqual(resumedAt);
    expect(Date.parse(fake.sends()[1]!.now)).toBeLessThan(resumedAt + MINUTE);
    const replan = fake.callsOf('planNextStep')[plansBefore]!.input;
    expect(Date.parse(replan.notBefore!)).toBeGreaterThanOrEqual(resumedAt);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(fake.statuses()).toEqual(['paused', 'active', 'completed']);
  });

  it('resumed before the step is due, sends it at its original due time', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    await handle.signal(resumeSignal);
    await recorded(fake, 'active');
    await handle.result();
    expect(Date.parse(fake.sends()[1]!.now)).toBeGreaterThanOrEqual(dueOf(fake, 1));
    expect(Date.parse(fake.sends()[1]!.now)).toBeLessThan(dueOf(fake, 1) + MINUTE);
  });

  it('records the reason a pause gives (a colleague replied, a portal event)', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal, { reason: 'a colleague replied: rita@acme.test' });
    await recorded(fake, 'paused');
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'paused', reason: 'a colleague replied: rita@acme.test' }]);
  });

  it('records the email behind a colleague’s pause, so that a correction of it finds the pause', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal, { reason: 'a colleague replied: rita@acme.test', inboundId: 'inbound-1' });
    await recorded(fake, 'paused');
    expect(fake.statusWrites()).toEqual([
      { enrolmentId: fake.id, status: 'paused', reason: 'a colleague replied: rita@acme.test', inboundId: 'inbound-1' },
    ]);
  });

  it('ignores a second pause, and a resume of an enrolment that is not paused', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(resumeSignal);
    await handle.signal(pauseSignal);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    await handle.signal(stopSignal);
    await handle.result();
    expect(fake.statuses()).toEqual(['paused', 'stopped']);
  });
});

describe('an enrolment that is stopped', () => {
  it('ends as "stopped by a user" when no reason is given, and sends nothing more', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(stopSignal);
    expect(await handle.result()).toMatchObject({ status: 'stopped', endedReason: 'stopped by a user', sentCount: 1, nextStep: null });
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'stopped', reason: 'stopped by a user' }]);
    expect(fake.sends()).toHaveLength(1);
  });

  it('ends with the reason the stop gives', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(stopSignal, { reason: 'the deal closed' });
    expect(await handle.result()).toMatchObject({ status: 'stopped', endedReason: 'the deal closed' });
    expect(fake.statusWrites().map((w) => w.reason)).toEqual(['the deal closed']);
  });

  it('keeps the reason of the stop that ended it when another stop follows the write', async () => {
    const { fake, handle } = await enrolled([0, DAY], {
      onStatus: async (input, self) => {
        if (input.status === 'stopped' && self.callsOf('recordStatus').length === 1) {
          await self.handle!.signal(stopSignal, { reason: 'archived' });
        }
      },
    });
    await waiting(fake, 1);
    await handle.signal(stopSignal, { reason: 'the deal closed' });
    expect(await handle.result()).toMatchObject({ status: 'stopped', endedReason: 'the deal closed' });
    expect(fake.statusWrites().map((w) => w.reason)).toEqual(['the deal closed']);
  });

  it('keeps the reason of the stop that ended it when another stop comes before the write', async () => {
    const { fake, handle } = await enrolled([0, DAY], {
      send: async (input, n, self) => {
        if (n === 0) {
          await self.handle!.signal(stopSignal, { reason: 'the deal closed' });
          await self.handle!.signal(stopSignal, { reason: 'archived' });
        }
        return { outcome: 'sent', messageId: 'm', sentAt: input.now };
      },
    });
    expect(await handle.result()).toMatchObject({ status: 'stopped', endedReason: 'the deal closed', sentCount: 1 });
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'stopped', reason: 'the deal closed' }]);
  });

  it('keeps "stopped by a user" when a stop with a reason follows one without', async () => {
    const { fake, handle } = await enrolled([0, DAY], {
      send: async (input, n, self) => {
        if (n === 0) {
          await self.handle!.signal(stopSignal);
          await self.handle!.signal(stopSignal, { reason: 'archived' });
        }
        return { outcome: 'sent', messageId: 'm', sentAt: input.now };
      },
    });
    expect(await handle.result()).toMatchObject({ status: 'stopped', endedReason: 'stopped by a user' });
    expect(fake.statusWrites().map((w) => w.reason)).toEqual(['stopped by a user']);
  });

  it('can be stopped while paused', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    await handle.signal(stopSignal, { reason: 'archived' });
    expect(await handle.result()).toMatchObject({ status: 'stopped', endedReason: 'archived' });
    expect(fake.statuses()).toEqual(['paused', 'stopped']);
  });
});

describe('a reply from the lead', () => {
  it('records the reply and, when the sequence stops on reply, ends as replied', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'stop' });
    await waiting(fake, 1);
    await handle.signal(replySignal);
    expect(await handle.result()).toMatchObject({ status: 'replied', endedReason: 'the lead replied', sentCount: 1 });
    expect(fake.callsOf('recordReply')).toHaveLength(1);
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'replied', reason: 'the lead replied' }]);
  });

  it('pauses the enrolment when the sequence pauses on reply, and a resume carries on', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'pause' });
    await waiting(fake, 1);
    await handle.signal(replySignal);
    await recorded(fake, 'paused');
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'paused', endedReason: null });
    await layer.env.sleep(2 * DAY);
    expect(fake.sends()).toHaveLength(1);
    await handle.signal(resumeSignal);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(fake.statuses()).toEqual(['paused', 'active', 'completed']);
  });

  it("says the pause is the reply's, so that a correction of the reply can tell", async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'pause' });
    await waiting(fake, 1);
    await handle.signal(replySignal);
    await recorded(fake, 'paused');
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'paused', reason: 'the lead replied' }]);
  });

  it('changes nothing but the record when the sequence continues on reply: the next step goes when due', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'continue' });
    await waiting(fake, 1);
    await handle.signal(replySignal);
    await until(() => fake.callsOf('recordReply').length === 1, 'reply recorded');
    expect((await handle.query(stateQuery)).status).toBe('active');
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(Date.parse(fake.sends()[1]!.now)).toBeGreaterThanOrEqual(dueOf(fake, 1));
    expect(fake.statuses()).toEqual(['completed']);
  });

  it('to a paused enrolment is recorded too, and ends it when the sequence stops on reply', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'stop' });
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    await handle.signal(replySignal);
    expect(await handle.result()).toMatchObject({ status: 'replied' });
    expect(fake.statuses()).toEqual(['paused', 'replied']);
  });

  it('to a paused enrolment of a sequence that continues on reply leaves it paused', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'continue' });
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    await handle.signal(replySignal);
    await until(() => fake.callsOf('recordReply').length === 1, 'reply recorded');
    await layer.env.sleep(2 * DAY);
    expect((await handle.query(stateQuery)).status).toBe('paused');
    expect(fake.sends()).toHaveLength(1);
  });
});

describe('an unsubscribe', () => {
  it('ends the enrolment as unsubscribed, sending nothing more', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(unsubscribeSignal);
    expect(await handle.result()).toMatchObject({ status: 'unsubscribed', endedReason: 'the lead unsubscribed', nextStep: null });
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'unsubscribed', reason: 'the lead unsubscribed' }]);
    expect(fake.sends()).toHaveLength(1);
  });
});

describe('a bounce', () => {
  it('ends the enrolment as bounced, sending nothing more', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(bounceSignal);
    expect(await handle.result()).toMatchObject({ status: 'bounced', endedReason: 'the email address bounced' });
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'bounced', reason: 'the email address bounced' }]);
    expect(fake.sends()).toHaveLength(1);
  });

  it('ends a paused enrolment too, and a later stop does not change the ending', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await recorded(fake, 'paused');
    await handle.signal(bounceSignal);
    await handle.signal(stopSignal, { reason: 'too late' });
    expect(await handle.result()).toMatchObject({ status: 'bounced', endedReason: 'the email address bounced' });
    expect(fake.statuses()).toEqual(['paused', 'bounced']);
  });
});

describe('a reschedule (the sequence was edited)', () => {
  it('plans the next step again and sends it at its new due time', async () => {
    const { fake, handle } = await enrolled([0, 3 * DAY]);
    await waiting(fake, 1);
    fake.delays[1] = HOUR; // the step's delay was shortened
    await handle.signal(rescheduleSignal);
    await planned(fake, 3);
    const [, before, after] = fake.callsOf('planNextStep');
    expect(after!.input.previousAt).toBe(before!.input.previousAt);
    await handle.result();
    const second = Date.parse(fake.sends()[1]!.now);
    expect(second).toBeGreaterThanOrEqual(dueOf(fake, 2));
    expect(second).toBeLessThan(dueOf(fake, 1));
  });
});

describe('a reschedule before the first send', () => {
  it('plans the first step again from the enrolment, not from the moment of the edit', async () => {
    const { fake, handle } = await enrolled([2 * DAY]);
    await planned(fake, 1);
    await layer.env.sleep(DAY);
    fake.delays[0] = 3 * DAY;
    await handle.signal(rescheduleSignal);
    await planned(fake, 2);
    const [first, second] = fake.callsOf('planNextStep');
    expect(second!.input.previousAt).toBe(first!.input.previousAt);
    await handle.result();
    expect(Date.parse(fake.sends()[0]!.now)).toBeGreaterThanOrEqual(Date.parse(first!.input.previousAt) + 3 * DAY);
  });
});

describe('the control update', () => {
  it('applies the action and answers the new state once its status is recorded', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    const state = await handle.executeUpdate(controlUpdate, { args: ['pause'] });
    expect(fake.statuses()).toEqual(['paused']);
    expect(state).toMatchObject({ enrolmentId: fake.id, status: 'paused', sentCount: 1, nextStep: { stepId: fake.stepId(1) } });
  });

  it('answers a reply with what the sequence did about it, once recorded', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'stop' });
    await waiting(fake, 1);
    const state = await handle.executeUpdate(controlUpdate, { args: ['reply'] });
    expect(state).toMatchObject({ status: 'replied', endedReason: 'the lead replied', nextStep: null });
    expect(fake.callsOf('recordReply')).toHaveLength(1);
    expect(fake.statuses()).toEqual(['replied']);
  });

  it('answers a stop of a paused enrolment with the ending, once recorded', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.executeUpdate(controlUpdate, { args: ['pause'] });
    const state = await handle.executeUpdate(controlUpdate, { args: ['stop'] });
    expect(state).toMatchObject({ status: 'stopped', endedReason: 'stopped by a user' });
    expect(fake.statuses()).toEqual(['paused', 'stopped']);
  });

  it('refuses an unknown action in its validator and leaves the enrolment as it was', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    const refused = await handle.executeUpdate(controlUpdate, { args: ['explode' as ControlAction] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toBe('unknown action explode');
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'active', sentCount: 1 });
    expect(fake.statuses()).toEqual([]);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
  });
});

describe('a plan that adopts the status the database holds', () => {
  it('pauses (a sequence-wide pause), sends nothing, and sends the planned step on resume', async () => {
    const { fake, handle } = await enrolled([0], {
      plan: (input, n, self) =>
        n === 0
          ? { ...self.nextUnsent(input.previousAt), adoptStatus: 'paused', reason: 'the sequence is paused' }
          : self.nextUnsent(input.previousAt),
    });
    await recorded(fake, 'paused');
    await layer.env.sleep(2 * DAY);
    expect(fake.sends()).toEqual([]);
    await handle.signal(resumeSignal);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1 });
    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0)]);
    expect(fake.statuses()).toEqual(['paused', 'active', 'completed']);
  });

  it('ends with the status and reason the database gives (a suppression that reached it first)', async () => {
    const { fake, handle } = await enrolled([0, DAY], {
      plan: () => ({ adoptStatus: 'unsubscribed', reason: 'the lead unsubscribed', next: null }),
    });
    expect(await handle.result()).toMatchObject({ status: 'unsubscribed', endedReason: 'the lead unsubscribed', sentCount: 0 });
    expect(fake.sends()).toEqual([]);
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'unsubscribed', reason: 'the lead unsubscribed' }]);
  });

  it('ends with the status as its reason when the database gives none', async () => {
    const { handle } = await enrolled([0], { plan: () => ({ adoptStatus: 'stopped', next: null }) });
    expect(await handle.result()).toMatchObject({ status: 'stopped', endedReason: 'stopped' });
  });

  it('ignores an adopted status the enrolment already has', async () => {
    const { fake, handle } = await enrolled([0], {
      plan: (input, _n, self) => ({ ...self.nextUnsent(input.previousAt), adoptStatus: 'active' }),
    });
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1 });
    expect(fake.statuses()).toEqual(['completed']);
  });
});

describe('a postponed send (daily cap or provider quota)', () => {
  it('waits until the time given and sends the same step again, without planning again', async () => {
    let until6h = '';
    const { fake, handle } = await enrolled([0], {
      send: (input, n) => {
        if (n > 0) return { outcome: 'sent', messageId: 'm', sentAt: input.now };
        until6h = new Date(Date.parse(input.now) + 6 * HOUR).toISOString();
        return { outcome: 'postponed', until: until6h, reason: 'the daily cap is reached' };
      },
    });
    await sent(fake, 1);
    const state = await until(async () => {
      const s = await handle.query(stateQuery);
      return s.nextStep?.dueAt === until6h && s;
    }, 'the postponed due time');
    expect(state).toMatchObject({ status: 'active', sentCount: 0 });
    await layer.env.sleep(5 * HOUR);
    expect(fake.sends()).toHaveLength(1);
    await handle.result();
    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0), fake.stepId(0)]);
    expect(Date.parse(fake.sends()[1]!.now)).toBeGreaterThanOrEqual(Date.parse(until6h));
    expect(Date.parse(fake.sends()[1]!.now)).toBeLessThan(Date.parse(until6h) + MINUTE);
    expect(fake.plans).toHaveLength(2); // the step, then "no step left"
  });
});

describe('a step that is not sendable', () => {
  it('pauses the enrolment when the send says paused, and tries the same step again on resume', async () => {
    const { fake, handle } = await enrolled([0], {
      send: (input, n) =>
        n === 0
          ? { outcome: 'not_sendable', status: 'paused', reason: 'the sequence is paused' }
          : { outcome: 'sent', messageId: 'm', sentAt: input.now },
    });
    await recorded(fake, 'paused');
    expect((await handle.query(stateQuery)).status).toBe('paused');
    await handle.signal(resumeSignal);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1 });
    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0), fake.stepId(0)]);
    expect(fake.statuses()).toEqual(['paused', 'active', 'completed']);
  });

  it('ends with the status and reason the send gives', async () => {
    const { fake, handle } = await enrolled([0, DAY], {
      send: () => ({ outcome: 'not_sendable', status: 'unsubscribed', reason: 'the lead is suppressed' }),
    });
    expect(await handle.result()).toMatchObject({ status: 'unsubscribed', endedReason: 'the lead is suppressed', sentCount: 0 });
    expect(fake.sends()).toHaveLength(1);
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'unsubscribed', reason: 'the lead is suppressed' }]);
  });

  it('plans again when the send gives no status (the step changed or vanished)', async () => {
    const { fake, handle } = await enrolled([0, HOUR], {
      send: (input, n, self) => {
        if (n > 0) return { outcome: 'sent', messageId: 'm', sentAt: input.now };
        self.sentStepIds.push(input.stepId); // step 1 was deleted meanwhile: the plan moves on
        return { outcome: 'not_sendable', status: null, reason: 'the step no longer exists' };
      },
    });
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1, lastStepId: fake.stepId(1) });
    expect(fake.plans.map((p) => p.next?.stepId ?? null)).toEqual([fake.stepId(0), fake.stepId(1), null]);
    expect(fake.statuses()).toEqual(['completed']);
  });
});

describe('a send that answers what follows it', () => {
  const planningNext: Script = { send: sendPlanningNext };

  it('sends every step with one plan, the first, and records no completion after the last', async () => {
    const { fake, handle } = await enrolled([HOUR, DAY, DAY], planningNext);
    expect(await handle.result()).toMatchObject({ status: 'completed', endedReason: 'all steps sent', sentCount: 3, nextStep: null });
    expect(fake.callsOf('planNextStep')).toHaveLength(1);
    expect(fake.statusWrites()).toEqual([]);
    expect((await handle.describe()).typedSearchAttributes.get(EnrolmentStatusKey)).toBe('completed');
  });

  it('sends each step when the plan the previous send answered says, and none before', async () => {
    const { fake, handle } = await enrolled([0, DAY, 2 * DAY], planningNext);
    const result = await handle.result();
    const sends = fake.sends();
    expect(sends).toHaveLength(3);
    for (let i = 1; i < 3; i++) expect(Date.parse(sends[i]!.now)).toBeGreaterThanOrEqual(Date.parse(fake.plans[i]!.next!.dueAt));
    expect(Date.parse(sends[1]!.now) - Date.parse(sends[0]!.now)).toBeLessThan(DAY + HOUR);
    // The last send's instant is the one the workflow carries (a later plan counts from it).
    expect(result.lastSentAt).toBe(sends[2]!.now);
  });

  it('shows the answered plan as its next step', async () => {
    const { fake, handle } = await enrolled([0, DAY], planningNext);
    await until(() => fake.sends().length === 1 && fake.plans.length === 2, 'the first send and its answer');
    await until(async () => (await handle.query(stateQuery)).nextStep?.stepId === fake.stepId(1), 'step 2 next');
    expect((await handle.query(stateQuery)).nextStep?.dueAt).toBe(fake.plans[1]!.next!.dueAt);
  });

  it('plans again itself when the sequence was edited during the send', async () => {
    const { fake, handle } = await enrolled([0, 3 * DAY], {
      send: async (input, n, self) => {
        if (n === 0) {
          self.delays[1] = HOUR; // the step's delay was shortened while the email went
          await self.handle!.signal(rescheduleSignal);
        }
        return sendPlanningNext(input, n, self);
      },
    });
    await handle.result();
    expect(fake.callsOf('planNextStep')).toHaveLength(2);
    const [first, second] = fake.sends();
    expect(Date.parse(second!.now) - Date.parse(first!.now)).toBeLessThan(3 * DAY);
  });

  it('ends completed when the last email went, though a stop came during its send', async () => {
    const { fake, handle } = await enrolled([0], {
      send: async (input, n, self) => {
        await self.handle!.signal(stopSignal);
        await until(async () => (await self.handle!.query(stateQuery)).status === 'stopped', 'the stop applied');
        return sendPlanningNext(input, n, self);
      },
    });
    expect(await handle.result()).toMatchObject({ status: 'completed', endedReason: 'all steps sent', sentCount: 1 });
    expect(fake.statusWrites()).toEqual([]);
  });
});

describe('a send with no send rate set', () => {
  const locally: Script = { sendsLocally: true, send: sendPlanningNext };
  const { EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, EVENT_TYPE_MARKER_RECORDED } = temporal.api.enums.v1.EventType;
  const eventsOf = async (handle: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }) =>
    (await handle.fetchHistory()).events ?? [];

  it("sends every step from the workflow's own worker, with no activity task and no patch marker", async () => {
    const { fake, handle } = await enrolled([0, DAY, DAY], locally);
    expect(await handle.result()).toMatchObject({ status: 'completed', endedReason: 'all steps sent', sentCount: 3 });
    expect(fake.callsOf('sendStep').map((c) => c.local)).toEqual([true, true, true]);
    expect(fake.callsOf('planNextStep')).toHaveLength(1);
    const events = await eventsOf(handle);
    expect(events.filter((e) => e.eventType === EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toEqual([]);
    // The first plan and three sends, each a local activity's marker: no patch's.
    expect(events.filter((e) => e.eventType === EVENT_TYPE_MARKER_RECORDED)).toHaveLength(4);
  });

  it('sends through the sends queue when its plan does not say so', async () => {
    const { fake, handle } = await enrolled([0, DAY], { send: sendPlanningNext });
    await handle.result();
    expect(fake.callsOf('sendStep').map((c) => c.local)).toEqual([false, false]);
    expect((await eventsOf(handle)).filter((e) => e.eventType === EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toHaveLength(2);
  });

  it('retries a failing send on a workflow timer, applying a stop that came meanwhile before the next attempt', async () => {
    const { fake, handle } = await enrolled([0], {
      sendsLocally: true,
      send: async (_input, n, self) => {
        if (n > 0) return { outcome: 'not_sendable', status: 'stopped', reason: 'stopped by the user' };
        await self.handle!.signal(stopSignal);
        throw new Error('provider unavailable');
      },
    });
    expect(await handle.result()).toMatchObject({ status: 'stopped', sentCount: 0 });
    expect(fake.callsOf('sendStep').map((c) => c.local)).toEqual([true, true]);
    // Between the attempts the workflow task closed on the retry's timer, and the stop was taken
    // in a task of its own: a failing provider does not hold signals, updates or queries back.
    const types = (await eventsOf(handle)).map((e) => e.eventType);
    const { EVENT_TYPE_TIMER_FIRED, EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, EVENT_TYPE_WORKFLOW_TASK_COMPLETED } =
      temporal.api.enums.v1.EventType;
    const signalled = types.indexOf(EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    const fired = types.indexOf(EVENT_TYPE_TIMER_FIRED);
    expect(signalled).toBeGreaterThan(0);
    expect(fired).toBeGreaterThan(signalled);
    expect(types.slice(signalled, fired)).toContain(EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  });

  it('plans again and sends through the sends queue once a send rate is set', async () => {
    const script: Script = {
      sendsLocally: true,
      // What the local send answers in a worker that has a send rate now.
      send: (input, n, self) => {
        if (n > 0) return sendPlanningNext(input, n, self);
        self.script.sendsLocally = false;
        return { outcome: 'not_sendable', status: null, reason: 'a send rate is set: sends go through the sends queue' };
      },
    };
    const { fake, handle } = await enrolled([0], script);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1 });
    expect(fake.callsOf('sendStep').map((c) => c.local)).toEqual([true, false]);
    expect(fake.callsOf('planNextStep')).toHaveLength(2);
  });
});

describe('a send that fails', () => {
  it('ends the enrolment as failed with the reason the send gives', async () => {
    const { fake, handle } = await enrolled([0, DAY], { send: () => ({ outcome: 'failed', reason: 'the template no longer renders' }) });
    expect(await handle.result()).toMatchObject({ status: 'failed', endedReason: 'the template no longer renders', sentCount: 0 });
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'failed', reason: 'the template no longer renders' }]);
  });

  it('ends as failed, naming the step and the cause, when the activity fails for good', async () => {
    const { fake, handle } = await enrolled([0, DAY], {
      send: (input, n) => {
        if (n === 0) return { outcome: 'sent', messageId: 'm', sentAt: input.now };
        throw ApplicationFailure.nonRetryable('the provider refused the API key', 'ProviderRefused');
      },
    });
    expect(await handle.result()).toMatchObject({
      status: 'failed',
      endedReason: 'sending step 2 failed: the provider refused the API key',
      sentCount: 1,
    });
    expect(fake.sends()).toHaveLength(2); // not retried
    expect(fake.statuses()).toEqual(['failed']);
  });

  it('retries a send that fails for a while, and carries on once it goes', async () => {
    const { fake, handle } = await enrolled([0], {
      send: (input, n) => {
        if (n < 2) throw new Error('provider unavailable');
        return { outcome: 'sent', messageId: 'm', sentAt: input.now };
      },
    });
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1 });
    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0), fake.stepId(0), fake.stepId(0)]);
  });
});

describe('an enrolment past its history bound', () => {
  it('continues as new, carrying what was sent and the schedule, and sends each step once', async () => {
    const { fake, handle } = await enrolled([0, DAY, DAY], {}, { historyBound: 1 });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'completed', endedReason: 'all steps sent', sentCount: 3, lastStepId: fake.stepId(2) });
    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0), fake.stepId(1), fake.stepId(2)]);
    const first = await layer.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    // One run per send, then the run that finds no step left.
    const runs = [...new Set(fake.calls.map((c) => c.runId))];
    expect(runs).toHaveLength(4);
    // Each new run plans from the previous run's last send, not from its own start.
    const plans = fake.callsOf('planNextStep');
    for (let i = 1; i < plans.length; i++) {
      expect(plans[i]!.runId).not.toBe(plans[i - 1]!.runId);
      expect(Date.parse(plans[i]!.input.previousAt)).toBeGreaterThanOrEqual(Date.parse(fake.sends()[i - 1]!.now));
    }
    expect(plans[3]!.input.previousAt).toBe(result.lastSentAt);
    expect(fake.statuses()).toEqual(['completed']);
  });

  it('plans a step of the next run from the enrolment when nothing was sent yet', async () => {
    const { fake, handle } = await enrolled(
      [HOUR],
      {
        send: (input, n, self) => {
          if (n > 0) return { outcome: 'sent', messageId: 'm', sentAt: input.now };
          self.sentStepIds.push(input.stepId);
          self.delays.push(HOUR);
          return { outcome: 'not_sendable', status: null, reason: 'the step changed' };
        },
      },
      { historyBound: 1 },
    );
    await handle.result();
    const [first, second] = fake.callsOf('planNextStep');
    expect(second!.runId).not.toBe(first!.runId);
    expect(second!.input.previousAt).toBe(first!.input.previousAt);
  });

  it('carries a pause decided in the bound-crossing run into the next run, which records it and resumes', async () => {
    const { fake, handle } = await enrolled(
      [0],
      {
        send: (input, n) =>
          n === 0
            ? { outcome: 'not_sendable', status: 'paused', reason: 'the sequence is paused' }
            : { outcome: 'sent', messageId: 'm', sentAt: input.now },
      },
      { historyBound: 1 },
    );
    await recorded(fake, 'paused');
    const pausedIn = fake.callsOf('recordStatus')[0]!.runId;
    expect(pausedIn).not.toBe(handle.firstExecutionRunId);
    expect((await handle.query(stateQuery)).status).toBe('paused');
    await handle.signal(resumeSignal);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1 });
    expect(fake.statuses()).toEqual(['paused', 'active', 'completed']);
  });

  it('carries the reason of a pause that arrived during the bound-crossing send into the next run', async () => {
    const { fake, handle } = await enrolled(
      [0, DAY],
      {
        send: async (input, n, self) => {
          if (n === 0) await self.handle!.signal(pauseSignal, { reason: 'a colleague replied: rita@acme.test' });
          return { outcome: 'sent', messageId: 'm', sentAt: input.now };
        },
      },
      { historyBound: 1 },
    );
    await recorded(fake, 'paused');
    expect(fake.callsOf('recordStatus')[0]!.runId).not.toBe(handle.firstExecutionRunId);
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'paused', reason: 'a colleague replied: rita@acme.test' }]);
  });

  it('carries a reply that arrived during the send into the next run, which records it', async () => {
    const { fake, handle } = await enrolled(
      [0, DAY],
      {
        onReply: 'stop',
        send: async (input, n, self) => {
          if (n === 0) await self.handle!.signal(replySignal);
          return { outcome: 'sent', messageId: 'm', sentAt: input.now };
        },
      },
      { historyBound: 1 },
    );
    expect(await handle.result()).toMatchObject({ status: 'replied', endedReason: 'the lead replied', sentCount: 1 });
    const [reply] = fake.callsOf('recordReply');
    expect(fake.callsOf('recordReply')).toHaveLength(1);
    expect(reply!.runId).not.toBe(handle.firstExecutionRunId);
    expect(fake.sends()).toHaveLength(1);
  });

  it('keeps a postponement across continue-as-new: the next run waits until the time given', async () => {
    let until6h = '';
    const { fake, handle } = await enrolled(
      [0],
      {
        send: (input, n) => {
          if (n > 0) return { outcome: 'sent', messageId: 'm', sentAt: input.now };
          until6h = new Date(Date.parse(input.now) + 6 * HOUR).toISOString();
          return { outcome: 'postponed', until: until6h, reason: 'the daily cap is reached' };
        },
      },
      { historyBound: 1 },
    );
    await planned(fake, 2);
    await layer.env.sleep(5 * HOUR);
    expect(fake.sends()).toHaveLength(1);
    const state = await until(async () => {
      const s = await handle.query(stateQuery);
      return s.nextStep?.dueAt === until6h && s;
    }, 'the postponed due time in the next run');
    expect(state).toMatchObject({ status: 'active', sentCount: 0, nextStep: { stepId: fake.stepId(0) } });
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 1 });
    const [postponed, retried] = fake.callsOf('sendStep');
    expect(retried!.runId).not.toBe(postponed!.runId);
    expect(retried!.input.stepId).toBe(fake.stepId(0));
    expect(Date.parse(retried!.input.now)).toBeGreaterThanOrEqual(Date.parse(until6h));
    expect(Date.parse(retried!.input.now)).toBeLessThan(Date.parse(until6h) + MINUTE);
  });

  it('answers a pause update accepted during the bound-crossing send once recorded, then continues as new, paused', async () => {
    const during = controlDuringFirstSend('pause', 'paused');
    const { fake, handle } = await enrolled([0, DAY], during.script, { historyBound: 1 });
    let answered: EnrolmentState | Error | undefined;
    await until(() => during.answer() !== undefined, 'the update sent');
    void during.answer()!.then((a) => (answered = a));
    await until(() => answered, 'the update answered');
    expect(answered).toMatchObject({ status: 'paused', sentCount: 1, nextStep: null });
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'paused', reason: null }]);
    // Recorded by the run that accepted the update: the answer waits for the write.
    expect(fake.callsOf('recordStatus')[0]!.runId).toBe(handle.firstExecutionRunId);
    const first = layer.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
    await until(async () => (await first.describe()).status.name === 'CONTINUED_AS_NEW', 'the first run continued as new');
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'paused', sentCount: 1 });
    await layer.env.sleep(2 * DAY);
    expect(fake.sends()).toHaveLength(1);
    await handle.signal(resumeSignal);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(fake.sends().map((s) => s.stepId)).toEqual([fake.stepId(0), fake.stepId(1)]);
    expect(fake.statuses()).toEqual(['paused', 'active', 'completed']);
  });

  it('answers a stop update accepted during the bound-crossing send with the ending, and ends', async () => {
    const during = controlDuringFirstSend('stop', 'stopped');
    const { fake, handle } = await enrolled([0, DAY], during.script, { historyBound: 1 });
    let answered: EnrolmentState | Error | undefined;
    await until(() => during.answer() !== undefined, 'the update sent');
    void during.answer()!.then((a) => (answered = a));
    await until(() => answered, 'the update answered');
    expect(answered).toMatchObject({ status: 'stopped', endedReason: 'stopped by a user', sentCount: 1, nextStep: null });
    expect(await handle.result()).toMatchObject({ status: 'stopped', sentCount: 1 });
    expect(fake.sends()).toHaveLength(1);
    expect(fake.statuses()).toEqual(['stopped']);
  });
});
