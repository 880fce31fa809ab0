import { proxyActivities } from '@temporalio/workflow';
import type { DatabaseActivities } from '../activities/index.js';
import { PORTAL_WEBHOOK_RETRY } from './contract.js';
import { sendingActivities } from './proxies.js';
import type { PortalEvent } from './contract.js';

/** Forwards a reply to the user's mailbox; sending goes through the rate-limited sends queue. */
export async function replyForwardWorkflow({ inboundId }: { inboundId: string }): Promise<{ forwarded: boolean; reason?: string }> {
  const { forwardReply } = sendingActivities();
  return forwardReply({ inboundId });
}

/** Delivers one signed webhook to the portal, retrying with backoff for about a day. */
export async function portalWebhookWorkflow(event: PortalEvent): Promise<unknown> {
  const { deliverPortalWebhook } = proxyActivities<DatabaseActivities>({
    startToCloseTimeout: '15 seconds',
    retry: PORTAL_WEBHOOK_RETRY,
  });
  return deliverPortalWebhook(event);
}
