import { proxyActivities } from '@temporalio/workflow';
import type { DatabaseActivities } from '../activities/index.js';
import { BROADCAST_PAGE_RETRY, type BroadcastInput } from './contract.js';

const { signalEnrolmentPage } = proxyActivities<DatabaseActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: BROADCAST_PAGE_RETRY,
});

/**
 * Carries an action to many enrolments, a page at a time: a sequence-wide one (pause all, resume
 * all, archive, "steps changed") to every live enrolment of the sequence, or a reply's effect
 * (pause or stop, and the resume that undoes a pause when the reply is corrected) to the lead's
 * colleagues (enrolments of the same company, in the sequence or the account; one not started yet
 * is signalled-with-start). Being a workflow, it finishes even if the API that asked for it dies
 * halfway.
 */
export async function sequenceBroadcastWorkflow(input: BroadcastInput): Promise<{ signalled: number }> {
  let afterId: string | null = null;
  let signalled = 0;
  do {
    const page: { signalled: number; lastId: string | null } = await signalEnrolmentPage({ ...input, afterId });
    signalled += page.signalled;
    afterId = page.lastId;
  } while (afterId);
  return { signalled };
}
