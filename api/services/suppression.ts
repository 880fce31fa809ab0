import type { Client } from '@temporalio/client';
import { and, eq, isNull } from 'drizzle-orm';
import { isLiveEnrolment } from '../../db/enrolment-queries.js';
import pLimit from 'p-limit';
import { notifyPortal } from '../../temporal/portal-events.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { enrolmentEvents, enrolments, leads } from '../../db/schema.js';
import { signalEnrolment } from '../../temporal/client.js';

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
}

/**
 * Suppression is account-wide and written to the lead first: every send re-checks it under a
 * lock, so no email goes out after this commits, whether or not a signal arrives. The signals
 * then end each live enrolment at once (as `unsubscribed` or `bounced`).
 */
async function suppress(deps: Deps, leadId: string, kind: 'unsubscribe' | 'bounce', detail: Record<string, unknown>): Promise<boolean> {
  const column = kind === 'unsubscribe' ? leads.unsubscribedAt : leads.bouncedAt;
  const updated = await deps.db
    .update(leads)
    .set(kind === 'unsubscribe' ? { unsubscribedAt: new Date(), updatedAt: new Date() } : { bouncedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(leads.id, leadId), isNull(column)))
    .returning({ accountId: leads.accountId, email: leads.email });
  const live = await deps.db
    .select({ id: enrolments.id, accountId: enrolments.accountId })
    .from(enrolments)
    .where(and(eq(enrolments.leadId, leadId), isLiveEnrolment()));
  // Once per suppression: a repeated call (a redelivered event, a recovery re-run) signals the
  // live enrolments again but writes no second timeline entry.
  if (live.length && updated.length) {
    await deps.db.insert(enrolmentEvents).values(live.map((e) => ({ accountId: e.accountId, enrolmentId: e.id, type: kind, detail })));
  }
  const limit = pLimit(16);
  await Promise.all(live.map((e) => limit(() => signalEnrolment(deps, e.id, kind))));
  const first = updated[0];
  if (first) {
    await notifyPortal(
      deps,
      first.accountId,
      kind === 'unsubscribe' ? 'lead.unsubscribed' : 'lead.bounced',
      { leadId, email: first.email, ...detail },
      `${kind}-${leadId}`,
    );
  }
  return updated.length > 0;
}

/** Idempotent: a second unsubscribe changes nothing and answers false. */
export const unsubscribeLead = (deps: Deps, leadId: string, source: string, detail: Record<string, unknown> = {}) =>
  suppress(deps, leadId, 'unsubscribe', { source, ...detail });
export const bounceLead = (deps: Deps, leadId: string, reason: string) => suppress(deps, leadId, 'bounce', { reason });
