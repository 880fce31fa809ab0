import { proxyActivities, workflowInfo } from '@temporalio/workflow';
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
