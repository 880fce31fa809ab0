import type { Client } from '@temporalio/client';
import { and, eq, isNull } from 'drizzle-orm';
import { isLiveEnrolment } from '../../db/enrolment-queries.js';
import pLimit from 'p-limit';
import { notifyPortal } from '../../temporal/portal-events.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { enrolmentEvents, enrolments, leads, leadUnsubscriptions } from '../../db/schema.js';
import { signalEnrolment } from '../../temporal/client.js';
import type { Logger } from '../../logger.js';
import { checkGuardrailsAfter, variantOfEmail, variantOfOutcome } from './experiments.js';

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
  logger?: Logger;
}

/** The email a suppression is about, when it is its own (a bounce's, a complaint's) rather than an outcome of the last one. */
interface About {
  messageId?: string;
}

/**
 * Suppression is account-wide and written to the lead first: every send re-checks it under a
 * lock, so no email goes out after this commits, whether or not a signal arrives. The signals
 * then end each live enrolment at once (as `unsubscribed` or `bounced`).
 */
async function suppress(
  deps: Deps,
  leadId: string,
  kind: 'unsubscribe' | 'bounce',
  detail: Record<string, unknown>,
  about: About = {},
): Promise<boolean> {
  const updated = kind === 'unsubscribe' ? await recordUnsubscription(deps.db, leadId, detail) : await recordBounce(deps.db, leadId);
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
  const variant = first || kind === 'unsubscribe' ? await variantOfSuppression(deps.db, leadId, kind, about) : null;
  if (first) {
    await notifyPortal(
      deps,
      first.accountId,
      kind === 'unsubscribe' ? 'lead.unsubscribed' : 'lead.bounced',
      { leadId, email: first.email, ...detail, variant },
      // Once per suppression: a lead subscribed again by a correction and unsubscribed later is told again.
      `${kind}-${leadId}-${first.at?.getTime() ?? 0}`,
    );
  }
  // Each new unsubscribe, and each complaint (a signed provider event naming its email), may be
  // the one that condemns its variant. Not a repeat of an unsubscription that stands: the footer
  // link is public, and its every click must not cost the step's figures.
  if (kind === 'unsubscribe' && (first || about.messageId)) await checkGuardrailsAfter(deps, variant);
  return updated.length > 0;
}

/**
 * The variant of the email a suppression is attributed to (api/services/experiments.ts): a
 * bounce's or a complaint's own email, else, for an unsubscribe, the last the lead had received.
 */
async function variantOfSuppression(db: Db, leadId: string, kind: 'unsubscribe' | 'bounce', about: About) {
  if (about.messageId) return variantOfEmail(db, about.messageId);
  return kind === 'unsubscribe' ? variantOfOutcome(db, { enrolmentId: null, leadId, at: new Date() }) : null;
}

const recordBounce = (db: Db, leadId: string) =>
  db
    .update(leads)
    .set({ bouncedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(leads.id, leadId), isNull(leads.bouncedAt)))
    .returning({ accountId: leads.accountId, email: leads.email, at: leads.bouncedAt });

/**
 * Keeps the cause (lead_unsubscriptions) and marks the lead unsubscribed, under the lead's row
 * lock, which liftUnsubscription takes too: a cause recorded while another is lifted is never
 * lost. A cause already kept (the same email, or the same source not lifted) is not kept twice.
 */
async function recordUnsubscription(db: Db, leadId: string, detail: Record<string, unknown>) {
  const source = typeof detail.source === 'string' ? detail.source : 'unknown';
  const inboundId = typeof detail.inboundId === 'string' && UUID.test(detail.inboundId) ? detail.inboundId : null;
  return db.transaction(async (tx) => {
    const [lead] = await tx.select({ accountId: leads.accountId }).from(leads).where(eq(leads.id, leadId)).for('update');
    if (!lead) return [];
    const kept = inboundId
      ? eq(leadUnsubscriptions.inboundId, inboundId)
      : and(eq(leadUnsubscriptions.source, source), isNull(leadUnsubscriptions.inboundId), isNull(leadUnsubscriptions.liftedAt));
    const [already] = await tx
      .select({ id: leadUnsubscriptions.id, liftedAt: leadUnsubscriptions.liftedAt })
      .from(leadUnsubscriptions)
      .where(and(eq(leadUnsubscriptions.leadId, leadId), kept))
      .limit(1);
    if (!already) await tx.insert(leadUnsubscriptions).values({ accountId: lead.accountId, leadId, source, inboundId });
    // The same email read as "remove me" again (corrected back): its cause stands again.
    else if (already.liftedAt) await tx.update(leadUnsubscriptions).set({ liftedAt: null }).where(eq(leadUnsubscriptions.id, already.id));
    return tx
      .update(leads)
      .set({ unsubscribedAt: new Date(), updatedAt: new Date() })
      .where(and(eq(leads.id, leadId), isNull(leads.unsubscribedAt)))
      .returning({ accountId: leads.accountId, email: leads.email, at: leads.unsubscribedAt });
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Lifts the unsubscription one inbound email made (a user said it was no "remove me"): only that
 * cause. The lead is subscribed again only when no other cause stands (the footer link, a
 * complaint, another email); `madeByThis` says whether the email was a cause at all.
 */
export async function liftUnsubscription(db: Db, leadId: string, inboundId: string): Promise<{ madeByThis: boolean; subscribed: boolean }> {
  return db.transaction(async (tx) => {
    const [lead] = await tx.select({ id: leads.id }).from(leads).where(eq(leads.id, leadId)).for('update');
    if (!lead) return { madeByThis: false, subscribed: false };
    const causes = await tx.select().from(leadUnsubscriptions).where(eq(leadUnsubscriptions.leadId, leadId));
    const mine = causes.find((c) => c.inboundId === inboundId);
    if (!mine) {
      const [row] = await tx.select({ unsubscribedAt: leads.unsubscribedAt }).from(leads).where(eq(leads.id, leadId));
      return { madeByThis: false, subscribed: row?.unsubscribedAt == null };
    }
    if (!mine.liftedAt) {
      await tx.update(leadUnsubscriptions).set({ liftedAt: new Date() }).where(eq(leadUnsubscriptions.id, mine.id));
    }
    const standing = causes.some((c) => c.id !== mine.id && !c.liftedAt);
    if (!standing) await tx.update(leads).set({ unsubscribedAt: null, updatedAt: new Date() }).where(eq(leads.id, leadId));
    return { madeByThis: true, subscribed: !standing };
  });
}

/** Idempotent: a second unsubscribe changes nothing and answers false. */
export const unsubscribeLead = (deps: Deps, leadId: string, source: string, detail: Record<string, unknown> = {}, about: About = {}) =>
  suppress(deps, leadId, 'unsubscribe', { source, ...detail }, about);
export const bounceLead = (deps: Deps, leadId: string, reason: string, about: About = {}) =>
  suppress(deps, leadId, 'bounce', { reason }, about);
