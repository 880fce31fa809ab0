import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REASONS } from '../../domain/enrolment-status.js';
import { outOfOfficeSignal, pauseSignal, replySignal, resumeSignal, stateQuery } from '../../workflows/contract.js';
import { DAY, FakeEnrolment, HOUR, MINUTE, startWorkflowLayer, until, type Script, type WorkflowLayer } from './harness.js';

// The wait for a lead who is out of office (workflows/enrolment.ts, the outOfOffice signal): the
// enrolment pauses until the date the reply named, then resumes by itself. Activities stubbed.

let layer: WorkflowLayer;
beforeAll(async () => {
  layer = await startWorkflowLayer();
});
afterEach(({ task }) => layer.reset({ failed: task.result?.state === 'fail' }));
afterAll(() => layer?.stop());

async function enrolled(delays: number[], script: Script = {}, options: { historyBound?: number } = {}) {
  const fake = new FakeEnrolment(delays, script);
  const handle = await layer.enrol(fake, options);
  return { fake, handle };
}
/** `count` steps sent and the next one planned: the workflow is waiting for it. */
const waiting = (fake: FakeEnrolment, count: number) =>
  until(() => fake.sends().length >= count && fake.plans.length > count, `${count} send(s) and the next step planned`);
const writes = (fake: FakeEnrolment, count: number) => until(() => fake.statusWrites().length >= count, `${count} status write(s)`);
/** A date `ms` from the test server's now. */
const fromNow = async (ms: number) => new Date((await layer.env.currentTimeMs()) + ms).toISOString();

describe('an active enrolment told the lead is out of office', () => {
  it('pauses until the date, recording the date and why, and the state query shows it', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    const back = await fromNow(10 * DAY);
    await handle.signal(outOfOfficeSignal, { until: back });
    await writes(fake, 1);
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'paused', reason: REASONS.outOfOffice, pausedUntil: back }]);
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'paused', pausedUntil: back });
  });

  it('tells the Temporal UI it is waiting for the lead’s return, and until when', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    const back = await fromNow(10 * DAY);
    await handle.signal(outOfOfficeSignal, { until: back });
    const metadata = await until(async () => {
      const m = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      return m.currentDetails?.includes('out of office') ? m : undefined;
    }, 'the current details');
    expect(metadata.currentDetails).toContain(`Waiting for the lead's return (out of office) until ${back}`);
  });

  it('sends nothing before the date, then resumes by itself and plans the next step from then', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    const back = await fromNow(10 * DAY);
    await handle.signal(outOfOfficeSignal, { until: back });
    await writes(fake, 1);
    await layer.env.sleep(9 * DAY);
    expect(fake.sends()).toHaveLength(1);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(fake.statusWrites().slice(1, 2)).toEqual([
      { enrolmentId: fake.id, status: 'active', reason: REASONS.backFromOutOfOffice, pausedUntil: null },
    ]);
    const replan = fake.callsOf('planNextStep')[2]!.input;
    expect(replan.notBefore).toBe(back);
    expect(Date.parse(fake.sends()[1]!.now)).toBeGreaterThanOrEqual(Date.parse(back));
    expect(Date.parse(fake.sends()[1]!.now)).toBeLessThan(Date.parse(back) + MINUTE);
  });

  it('moves the date when a second out-of-office names a later one', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    const first = await fromNow(5 * DAY);
    const later = await fromNow(12 * DAY);
    await handle.signal(outOfOfficeSignal, { until: first });
    await writes(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: later });
    await writes(fake, 2);
    expect(fake.statusWrites()[1]).toEqual({ enrolmentId: fake.id, status: 'paused', reason: REASONS.outOfOffice, pausedUntil: later });
    await layer.env.sleep(8 * DAY);
    expect(fake.sends()).toHaveLength(1);
    await handle.result();
    expect(Date.parse(fake.sends()[1]!.now)).toBeGreaterThanOrEqual(Date.parse(later));
  });

  it('changes nothing when the date is already past', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(-HOUR) });
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(fake.statuses()).toEqual(['completed']);
  });
});

describe('a person acting during an out-of-office wait', () => {
  it('ends the wait with a resume: the overdue step goes at once', async () => {
    const { fake, handle } = await enrolled([0, HOUR]);
    await waiting(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(10 * DAY) });
    await writes(fake, 1);
    await layer.env.sleep(2 * HOUR);
    const resumedAt = await layer.env.currentTimeMs();
    await handle.signal(resumeSignal);
    await handle.result();
    expect(fake.statusWrites()[1]).toEqual({ enrolmentId: fake.id, status: 'active', reason: null, pausedUntil: null });
    expect(Date.parse(fake.sends()[1]!.now)).toBeLessThan(resumedAt + MINUTE);
  });

  it('makes the wait a pause without a date: it stays paused after the date has passed', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(3 * DAY) });
    await writes(fake, 1);
    await handle.signal(pauseSignal);
    await writes(fake, 2);
    expect(fake.statusWrites()[1]).toEqual({ enrolmentId: fake.id, status: 'paused', reason: null, pausedUntil: null });
    await layer.env.sleep(10 * DAY);
    expect(fake.sends()).toHaveLength(1);
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'paused', pausedUntil: null });
  });
});

describe('a pause with a reason during an out-of-office wait (a colleague replied)', () => {
  it('replaces the wait and records the reason', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(3 * DAY) });
    await writes(fake, 1);
    await handle.signal(pauseSignal, { reason: 'a colleague replied: rita@acme.test' });
    await writes(fake, 2);
    expect(fake.statusWrites()[1]).toEqual({
      enrolmentId: fake.id,
      status: 'paused',
      reason: 'a colleague replied: rita@acme.test',
      pausedUntil: null,
    });
  });
});

describe('an enrolment a person paused, told the lead is out of office', () => {
  it('stays paused without a date: a person’s pause is a person’s to lift', async () => {
    const { fake, handle } = await enrolled([0, DAY]);
    await waiting(fake, 1);
    await handle.signal(pauseSignal);
    await writes(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(2 * DAY) });
    await layer.env.sleep(5 * DAY);
    expect(fake.statusWrites()).toEqual([{ enrolmentId: fake.id, status: 'paused', reason: null }]);
    expect(fake.sends()).toHaveLength(1);
  });
});

describe('a real reply during an out-of-office wait', () => {
  it('ends the enrolment as replied when the sequence stops on reply', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'stop' });
    await waiting(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(10 * DAY) });
    await writes(fake, 1);
    await handle.signal(replySignal);
    expect(await handle.result()).toMatchObject({ status: 'replied', endedReason: REASONS.replied });
    expect(fake.statusWrites()[1]).toEqual({ enrolmentId: fake.id, status: 'replied', reason: REASONS.replied, pausedUntil: null });
  });

  it('ends the wait at once when the sequence continues on reply: the lead is back', async () => {
    const { fake, handle } = await enrolled([0, HOUR], { onReply: 'continue' });
    await waiting(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(10 * DAY) });
    await writes(fake, 1);
    await layer.env.sleep(2 * HOUR);
    const repliedAt = await layer.env.currentTimeMs();
    await handle.signal(replySignal);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(fake.statusWrites()[1]).toEqual({ enrolmentId: fake.id, status: 'active', reason: null, pausedUntil: null });
    expect(Date.parse(fake.sends()[1]!.now)).toBeLessThan(repliedAt + MINUTE);
  });

  it('leaves it paused without a date when the sequence pauses on reply', async () => {
    const { fake, handle } = await enrolled([0, DAY], { onReply: 'pause' });
    await waiting(fake, 1);
    await handle.signal(outOfOfficeSignal, { until: await fromNow(3 * DAY) });
    await writes(fake, 1);
    await handle.signal(replySignal);
    await writes(fake, 2);
    expect(fake.statusWrites()[1]).toEqual({ enrolmentId: fake.id, status: 'paused', reason: REASONS.replied, pausedUntil: null });
    await layer.env.sleep(10 * DAY);
    expect(fake.sends()).toHaveLength(1);
  });
});

describe('an out-of-office wait across continue-as-new', () => {
  it('is carried to the next run, which records it, waits for the date and then sends', async () => {
    let back = '';
    const { fake, handle } = await enrolled(
      [0, DAY],
      {
        // The signal lands while the first send (which crosses the history bound) is in flight.
        send: async (input, n, self) => {
          if (n === 0) {
            back = new Date(Date.parse(input.now) + 10 * DAY).toISOString();
            await self.handle!.signal(outOfOfficeSignal, { until: back });
            await until(async () => (await self.handle!.query(stateQuery)).status === 'paused', 'the wait applied');
          }
          return { outcome: 'sent', messageId: `m-${input.stepId}`, sentAt: input.now };
        },
      },
      { historyBound: 1 },
    );
    await writes(fake, 1);
    expect(fake.statusWrites()[0]).toEqual({ enrolmentId: fake.id, status: 'paused', reason: REASONS.outOfOffice, pausedUntil: back });
    await layer.env.sleep(9 * DAY);
    expect(fake.sends()).toHaveLength(1);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    expect(Date.parse(fake.sends()[1]!.now)).toBeGreaterThanOrEqual(Date.parse(back));
    expect(new Set(fake.calls.map((c) => c.runId)).size).toBeGreaterThan(1);
  });
});
