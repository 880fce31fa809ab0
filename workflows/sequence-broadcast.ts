import { proxyActivities } from '@temporalio/workflow';
import type { DatabaseActivities } from '../activities/index.js';
import { BROADCAST_PAGE_RETRY, type BroadcastInput } from './contract.js';

const { signalEnrolmentPage } = proxyActivities<DatabaseActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: BROADCAST_PAGE_RETRY,
});

/**
 * Carries a sequence-wide action (pause all, resume all, archive, "steps changed") to every live
 * enrolment, a page at a time. Being a workflow, it finishes even if the API that asked for it
 * dies halfway.
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
