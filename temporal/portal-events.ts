import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { accounts } from '../db/schema.js';
import type { PortalEvent, PortalEventType } from '../workflows/contract.js';
import { startPortalWebhook } from './client.js';

/** Starts delivery when the account has a portal webhook URL. Called from the API and activities. */
export async function notifyPortal(
  deps: { db: Db; temporal: Client; config: Config },
  accountId: string,
  type: PortalEventType,
  data: Record<string, unknown>,
  dedupeKey?: string,
  /** The account's portal webhook URL, when the caller has just read it (a round trip saved). */
  known?: { portalWebhookUrl: string | null },
): Promise<void> {
  const url = known
    ? known.portalWebhookUrl
    : (await deps.db.select({ url: accounts.portalWebhookUrl }).from(accounts).where(eq(accounts.id, accountId)))[0]?.url;
  if (!url) return;
  const event: PortalEvent = { id: dedupeKey ?? randomUUID(), type, accountId, createdAt: new Date().toISOString(), data };
  await startPortalWebhook(deps, event, `${type} → portal of account ${accountId}`);
}
