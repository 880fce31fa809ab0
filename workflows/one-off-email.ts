import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { EnrolmentActivities } from '../activities/index.js';

/** One email to one lead outside a sequence, sent durably: it survives crashes and waits out quotas. */
export async function oneOffEmailWorkflow({ oneOffId }: { oneOffId: string }): Promise<{ outcome: string; reason?: string }> {
  const { sendOneOff } = proxyActivities<EnrolmentActivities>({
    taskQueue: `${workflowInfo().taskQueue}-sends`,
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 25 },
  });
  for (;;) {
    const result = await sendOneOff({ oneOffId });
    if (result.outcome !== 'postponed') return result;
    await sleep(Math.max(1_000, Date.parse(result.until) - Date.now()), { summary: `postponed: ${result.reason}` });
  }
}
