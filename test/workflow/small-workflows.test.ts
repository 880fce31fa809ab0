import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortalEvent } from '../../workflows/contract.js';
import type { OneOffOutcome } from '../../activities/send-one-off.js';
import type { BroadcastInput } from '../../workflows/contract.js';
import { portalWebhookWorkflow, replyForwardWorkflow } from '../../workflows/notifications.js';
import { oneOffEmailWorkflow } from '../../workflows/one-off-email.js';
import { sequenceBroadcastWorkflow } from '../../workflows/sequence-broadcast.js';
import { HOUR, MINUTE, startWorkflowLayer, TASK_QUEUE, type WorkflowLayer } from './harness.js';

// The one-off email, the sequence broadcast and the two notification workflows, with their
// activities stubbed: each test scripts the answers for its own id and reads back the calls.

const oneOffScripts = new Map<string, (n: number, now: number) => OneOffOutcome>();
const oneOffCalls = new Map<string, number[]>();
const pages = new Map<string, { signalled: number; lastId: string | null }[]>();
const pageCalls = new Map<string, (BroadcastInput & { afterId: string | null })[]>();
const webhookCalls = new Map<string, number>();
const forwardCalls: string[] = [];

let layer: WorkflowLayer;
beforeAll(async () => {
  layer = await startWorkflowLayer({
    sending: {
      async sendOneOff({ oneOffId }) {
        // The test server's clock (the workflow's), not the machine's.
        const now = await layer.env.currentTimeMs();
        const calls = oneOffCalls.get(oneOffId) ?? [];
        oneOffCalls.set(oneOffId, [...calls, now]);
        return oneOffScripts.get(oneOffId)!(calls.length, now);
      },
      async forwardReply({ inboundId }) {
        forwardCalls.push(inboundId);
        return { forwarded: true };
      },
    },
    database: {
      async signalEnrolmentPage(input) {
        // A sequence's broadcast, or a colleagues' one keyed by its company.
        const key =
          'sequenceId' in input
            ? input.sequenceId
            : 'colleaguesOf' in input
              ? input.colleaguesOf.companyKey
              : 'senderOf' in input
                ? input.senderOf.senderId
                : input.accountOf.accountId;
        const calls = pageCalls.get(key) ?? [];
        pageCalls.set(key, [...calls, input]);
        return pages.get(key)![calls.length]!;
      },
      async deliverPortalWebhook(event) {
        const n = webhookCalls.get(event.id) ?? 0;
        webhookCalls.set(event.id, n + 1);
        if (n < 2) throw ApplicationFailure.retryable('the portal answered 503');
        return { status: 200 };
      },
    },
  });
});
afterAll(() => layer?.stop());

let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`;
const run = <A, R>(workflow: (arg: A) => Promise<R>, arg: A): Promise<R> =>
  layer.env.client.workflow.execute(workflow, { taskQueue: TASK_QUEUE, workflowId: unique('wf'), args: [arg] });

describe('a one-off email', () => {
  it('is sent once and answers the send’s outcome', async () => {
    const oneOffId = unique('one-off');
    oneOffScripts.set(oneOffId, () => ({ outcome: 'sent' }));
    expect(await run(oneOffEmailWorkflow, { oneOffId })).toEqual({ outcome: 'sent' });
    expect(oneOffCalls.get(oneOffId)).toHaveLength(1);
  });

  it('answers a refusal as it is, without trying again', async () => {
    const oneOffId = unique('one-off');
    oneOffScripts.set(oneOffId, () => ({ outcome: 'suppressed', reason: 'the lead unsubscribed' }));
    expect(await run(oneOffEmailWorkflow, { oneOffId })).toEqual({ outcome: 'suppressed', reason: 'the lead unsubscribed' });
    expect(oneOffCalls.get(oneOffId)).toHaveLength(1);
  });

  it('postponed, waits until the time given and tries again', async () => {
    const oneOffId = unique('one-off');
    let until = 0;
    oneOffScripts.set(oneOffId, (n, now) => {
      if (n > 0) return { outcome: 'sent' };
      until = now + 5 * HOUR;
      return { outcome: 'postponed', until: new Date(until).toISOString(), reason: 'the daily cap is reached' };
    });
    expect(await run(oneOffEmailWorkflow, { oneOffId })).toEqual({ outcome: 'sent' });
    const [, second] = oneOffCalls.get(oneOffId)!;
    expect(second).toBeGreaterThanOrEqual(until);
    expect(second).toBeLessThan(until + MINUTE);
  });

  it('postponed to a time already past, waits a second rather than spinning', async () => {
    const oneOffId = unique('one-off');
    oneOffScripts.set(oneOffId, (n, now) =>
      n < 3 ? { outcome: 'postponed', until: new Date(now - HOUR).toISOString(), reason: 'quota' } : { outcome: 'sent' },
    );
    expect(await run(oneOffEmailWorkflow, { oneOffId })).toEqual({ outcome: 'sent' });
    const calls = oneOffCalls.get(oneOffId)!;
    expect(calls).toHaveLength(4);
    for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(1_000);
  });
});

describe('a sequence-wide broadcast', () => {
  it('signals page after page, each after the last id of the one before, and answers the total', async () => {
    const sequenceId = unique('seq');
    pages.set(sequenceId, [
      { signalled: 1_000, lastId: 'id-1000' },
      { signalled: 998, lastId: 'id-2000' },
      { signalled: 3, lastId: null },
    ]);
    expect(await run(sequenceBroadcastWorkflow, { sequenceId, signal: 'stop', reason: 'archived' })).toEqual({ signalled: 2_001 });
    expect(pageCalls.get(sequenceId)).toEqual([
      { sequenceId, signal: 'stop', reason: 'archived', afterId: null },
      { sequenceId, signal: 'stop', reason: 'archived', afterId: 'id-1000' },
      { sequenceId, signal: 'stop', reason: 'archived', afterId: 'id-2000' },
    ]);
  });

  it('of a sequence without live enrolments asks for one page and signals nobody', async () => {
    const sequenceId = unique('seq');
    pages.set(sequenceId, [{ signalled: 0, lastId: null }]);
    expect(await run(sequenceBroadcastWorkflow, { sequenceId, signal: 'pause' })).toEqual({ signalled: 0 });
    expect(pageCalls.get(sequenceId)).toHaveLength(1);
  });
});

describe('the notification workflows', () => {
  it('forward a reply once, answering the forward’s outcome', async () => {
    const inboundId = unique('inbound');
    expect(await run(replyForwardWorkflow, { inboundId })).toEqual({ forwarded: true });
    expect(forwardCalls.filter((id) => id === inboundId)).toHaveLength(1);
  });

  it('retry a portal webhook the portal refuses, until it is delivered', async () => {
    const event: PortalEvent = {
      id: unique('event'),
      type: 'enrolment.ended',
      accountId: 'a',
      createdAt: new Date(0).toISOString(),
      data: {},
    };
    expect(await run(portalWebhookWorkflow, event)).toEqual({ status: 200 });
    expect(webhookCalls.get(event.id)).toBe(3);
  });
});
