import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createSignalEnrolmentPage } from '../../activities/signal-enrolments.js';
import type { Db } from '../../db/client.js';
import { enrolmentWorkflowId, type BroadcastInput, type BroadcastSignal } from '../../workflows/contract.js';

// The broadcast's activity on its own, in Temporal's MockActivityEnvironment: the database is a
// stub answering one page of enrolment ids, the Temporal client a stub recording each signal.

interface Signalled {
  workflowId: string;
  signal: string;
  args: unknown[];
}

function stubs(ids: string[], options: { ended?: Set<string>; failing?: Set<string> } = {}) {
  const signalled: Signalled[] = [];
  const limits: number[] = [];
  const db = {
    select: () => ({
      from: () => ({
        where: () => ({
          orderBy: () => ({
            limit: async (n: number) => {
              limits.push(n);
              return ids.slice(0, n).map((id) => ({ id }));
            },
          }),
        }),
      }),
    }),
  } as unknown as Db;
  const temporal = {
    workflow: {
      getHandle: (workflowId: string) => ({
        async signal(definition: { name: string }, ...args: unknown[]) {
          if (options.ended?.has(workflowId)) throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
          if (options.failing?.has(workflowId)) throw new Error('the Temporal service is unavailable');
          signalled.push({ workflowId, signal: definition.name, args });
        },
      }),
    },
  } as unknown as Client;
  return { signalEnrolmentPage: createSignalEnrolmentPage({ db, temporal }), signalled, limits };
}

/** The first page of a broadcast of `signal`. */
const firstPage = (signal: BroadcastSignal, reason?: string): BroadcastInput & { afterId: string | null } => ({
  sequenceId: 'sequence-1',
  signal,
  ...(reason ? { reason } : {}),
  afterId: null,
});
const idsOf = (count: number) => Array.from({ length: count }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

describe('signalling one page of a sequence’s enrolments', () => {
  it('signals each enrolment with the action and its reason, and answers how many it signalled', async () => {
    const ids = idsOf(3);
    const { signalEnrolmentPage, signalled } = stubs(ids);
    const page = await new MockActivityEnvironment().run(signalEnrolmentPage, firstPage('stop', 'the sequence was archived'));
    expect(page).toEqual({ signalled: 3, lastId: null });
    expect(signalled.sort((a, b) => a.workflowId.localeCompare(b.workflowId))).toEqual(
      ids.map((id) => ({ workflowId: enrolmentWorkflowId(id), signal: 'stop', args: [{ reason: 'the sequence was archived' }] })),
    );
  });

  it('sends a pause with no argument', async () => {
    const { signalEnrolmentPage, signalled } = stubs(idsOf(1));
    await new MockActivityEnvironment().run(signalEnrolmentPage, firstPage('pause'));
    expect(signalled).toEqual([{ workflowId: enrolmentWorkflowId(idsOf(1)[0]!), signal: 'pause', args: [] }]);
  });

  it('answers the last id of a full page of 1,000, so that the workflow asks for the next page', async () => {
    const ids = idsOf(1_000);
    const { signalEnrolmentPage, limits } = stubs(ids);
    const page = await new MockActivityEnvironment().run(signalEnrolmentPage, firstPage('reschedule'));
    expect(limits).toEqual([1_000]);
    expect(page).toEqual({ signalled: 1_000, lastId: ids[999] });
  });

  it('does not count an enrolment whose workflow has ended', async () => {
    const ids = idsOf(4);
    const { signalEnrolmentPage, signalled } = stubs(ids, { ended: new Set([enrolmentWorkflowId(ids[1]!), enrolmentWorkflowId(ids[2]!)]) });
    const page = await new MockActivityEnvironment().run(signalEnrolmentPage, firstPage('resume'));
    expect(page).toEqual({ signalled: 2, lastId: null });
    expect(signalled.map((s) => s.workflowId).sort()).toEqual([enrolmentWorkflowId(ids[0]!), enrolmentWorkflowId(ids[3]!)]);
  });

  it('heartbeats every hundred signals, so a long page is not taken for a dead worker', async () => {
    const { signalEnrolmentPage } = stubs(idsOf(250));
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    await env.run(signalEnrolmentPage, firstPage('pause'));
    expect(beats).toHaveLength(2);
  });

  it('fails (to be retried) when signalling fails for another reason than an ended workflow', async () => {
    const ids = idsOf(3);
    const { signalEnrolmentPage } = stubs(ids, { failing: new Set([enrolmentWorkflowId(ids[1]!)]) });
    await expect(new MockActivityEnvironment().run(signalEnrolmentPage, firstPage('pause'))).rejects.toThrow(
      'the Temporal service is unavailable',
    );
  });
});
