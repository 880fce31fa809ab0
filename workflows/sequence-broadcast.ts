import { proxyActivities } from '@temporalio/workflow';
import type { EnrolmentActivities } from '../activities/index.js';

/**
 * Carries a sequence-wide action (pause all, resume all, archive, "steps changed") to every live
 * enrolment, a page at a time. Being a workflow, it finishes even if the API that asked for it
 * dies halfway.
 */
export interface BroadcastInput {
  sequenceId: string;
  signal: 'pause' | 'resume' | 'stop' | 'reschedule';
  reason?: string;
}

const { signalEnrolmentPage } = proxyActivities<EnrolmentActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
});

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
