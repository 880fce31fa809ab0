import { proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { SendingActivities } from '../activities/index.js';
import { SEND_RETRY, SEND_TIMEOUT, sendsTaskQueue } from './contract.js';

/**
 * The sending activities, on the rate-limited sends queue of the queue this workflow runs on.
 * Only they are typed here, so a workflow cannot schedule a send on the main queue (where no
 * worker has it) or a database activity on the sends queue.
 */
export const sendingActivities = () =>
  proxyActivities<SendingActivities>({
    taskQueue: sendsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: SEND_TIMEOUT,
    retry: SEND_RETRY,
  });

/**
 * A step's send as a local activity, in the workflow's own worker, when its plan says no send
 * rate is set (`NextStepPlan.sendsLocally`): no activity task through the server, and the send
 * shares the workflow task that planned it. Every retry waits on a workflow timer (the threshold
 * is under the first backoff), so signals and updates are handled between attempts.
 */
export const localSendingActivities = () =>
  proxyLocalActivities<Pick<SendingActivities, 'sendStep'>>({
    startToCloseTimeout: SEND_TIMEOUT,
    retry: SEND_RETRY,
    localRetryThreshold: '1 second',
  });
