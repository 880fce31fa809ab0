import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { EnrolmentActivities } from '../activities/index.js';
import type { PortalEvent } from '../activities/portal-webhook.js';

/** Forwards a reply to the user's mailbox; sending goes through the rate-limited sends queue. */
export async function replyForwardWorkflow({ inboundId }: { inboundId: string }): Promise<{ forwarded: boolean; reason?: string }> {
  const { forwardReply } = proxyActivities<EnrolmentActivities>({
    taskQueue: `${workflowInfo().taskQueue}-sends`,
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 25 },
  });
  return forwardReply({ inboundId });
}

/** Delivers one signed webhook to the portal, retrying with backoff for about a day. */
export async function portalWebhookWorkflow(event: PortalEvent): Promise<unknown> {
  const { deliverPortalWebhook } = proxyActivities<EnrolmentActivities>({
    startToCloseTimeout: '15 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: 35 },
  });
  return deliverPortalWebhook(event);
}
