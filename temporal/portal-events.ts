import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { accounts } from '../db/schema.js';
import type { PortalEvent, PortalEventType } from '../workflows/contract.js';
import { startPortalWebhook } from './client.js';

/** Starts delivery when the account has a portal webhook URL. Called from the API and activities. */
/**
 * The portal's `enrolment.ended`, once per enrolment (its id is the event's): from the status
 * write that ended it, or from the send that completed it.
 */
export function notifyEnrolmentEnded(
  deps: { db: Db; temporal: Client; config: Config },
  enrolment: { id: string; accountId: string; sequenceId: string; leadId: string },
  ending: { status: string; reason: string | null },
  portalWebhookUrl: string | null,
): Promise<void> {
  return notifyPortal(
    deps,
    enrolment.accountId,
    'enrolment.ended',
    { enrolmentId: enrolment.id, sequenceId: enrolment.sequenceId, leadId: enrolment.leadId, ...ending },
    `enrolment-ended-${enrolment.id}`,
    { portalWebhookUrl, once: true },
  );
}

export async function notifyPortal(
  deps: { db: Db; temporal: Client; config: Config },
  accountId: string,
  type: PortalEventType,
  data: Record<string, unknown>,
  dedupeKey?: string,
  options: {
    /** The account's portal webhook URL, when the caller has just read it (a round trip saved). */
    portalWebhookUrl?: string | null;
    /**
     * Delivered at most once per dedupe key: announced again after a delivery (a retried local
     * activity, a lost answer), it is not delivered again. Without it an event announced again is
     * delivered again with the same id, for the portal to recognise (at least once).
     */
    once?: boolean;
  } = {},
): Promise<void> {
  const url =
    options.portalWebhookUrl !== undefined
      ? options.portalWebhookUrl
      : (await deps.db.select({ url: accounts.portalWebhookUrl }).from(accounts).where(eq(accounts.id, accountId)))[0]?.url;
  if (!url) return;
  const event: PortalEvent = { id: dedupeKey ?? randomUUID(), type, accountId, createdAt: new Date().toISOString(), data };
  await startPortalWebhook(deps, event, `${type} → portal of account ${accountId}`, { once: options.once });
}
