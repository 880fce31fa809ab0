import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { accounts } from '../db/schema.js';

/**
 * Outbound webhooks to the portal: reply, bounce, unsubscribe, enrolment ended. Signed the
 * Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 with the
 * account's secret) and delivered by a workflow that retries for a day, so none is lost.
 */
export type PortalEventType = 'reply.received' | 'lead.bounced' | 'lead.unsubscribed' | 'enrolment.ended';

export interface PortalEvent {
  id: string;
  type: PortalEventType;
  accountId: string;
  createdAt: string;
  data: Record<string, unknown>;
}

/** Starts delivery when the account has a portal webhook URL. Called from the API and activities. */
export async function notifyPortal(
  deps: { db: Db; temporal: Client; config: Config },
  accountId: string,
  type: PortalEventType,
  data: Record<string, unknown>,
  dedupeKey?: string,
): Promise<void> {
  const [account] = await deps.db.select({ url: accounts.portalWebhookUrl }).from(accounts).where(eq(accounts.id, accountId));
  if (!account?.url) return;
  const event: PortalEvent = { id: dedupeKey ?? randomUUID(), type, accountId, createdAt: new Date().toISOString(), data };
  try {
    await deps.temporal.workflow.start('portalWebhookWorkflow', {
      workflowId: `portal-webhook-${event.id}`,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [event],
      staticSummary: `${type} → portal of account ${accountId}`,
    });
  } catch (error) {
    if ((error as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw error;
  }
}

export function createDeliverPortalWebhook({ db }: { db: Db }) {
  return async function deliverPortalWebhook(event: PortalEvent): Promise<{ status: number } | { skipped: string }> {
    const [account] = await db
      .select({ url: accounts.portalWebhookUrl, secret: accounts.portalWebhookSecret })
      .from(accounts)
      .where(eq(accounts.id, event.accountId));
    if (!account?.url || !account.secret) return { skipped: 'no portal webhook configured' };
    const body = JSON.stringify({ type: event.type, created_at: event.createdAt, data: event.data });
    const timestamp = new Date();
    const signature = new Webhook(account.secret).sign(event.id, timestamp, body);
    const response = await fetch(account.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': event.id,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`portal answered ${response.status}`);
    return { status: response.status };
  };
}
