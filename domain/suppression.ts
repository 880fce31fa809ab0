import { REASONS, type EnrolmentStatus } from './enrolment-status.js';

/**
 * Why a lead may not be emailed at all, whatever the sequence: the one rule behind enrolling,
 * planning, sending a step and sending a one-off email. Checked in this order: a suppression
 * (unsubscribed, bounced, the portal's do not contact) is the fact that matters even when the
 * address was removed since; the lead's own word and the address's fate are named before the
 * portal's. The database asks the same question in SQL (`leadSuppressedSql` in
 * db/enrolment-queries.ts), the missing address aside.
 */
export type Suppression = 'unsubscribed' | 'bounced' | 'do_not_contact' | 'no_email';

export function suppressionOf(lead: {
  email: string | null;
  unsubscribedAt: Date | null;
  bouncedAt: Date | null;
  doNotContactAt: Date | null;
}): Suppression | null {
  if (lead.unsubscribedAt) return 'unsubscribed';
  if (lead.bouncedAt) return 'bounced';
  if (lead.doNotContactAt) return 'do_not_contact';
  if (!lead.email) return 'no_email';
  return null;
}

/** What a live enrolment becomes, and why, when its lead turns out to be suppressed. */
export const SUPPRESSION_OUTCOME: Record<Suppression, { status: EnrolmentStatus; reason: string }> = {
  unsubscribed: { status: 'unsubscribed', reason: REASONS.unsubscribed },
  bounced: { status: 'bounced', reason: REASONS.bounced },
  // The portal ended it (POST /v1/leads/{id}/events do_not_contact): the lead did nothing, so no status of the lead's.
  do_not_contact: { status: 'stopped', reason: REASONS.doNotContact },
  no_email: { status: 'failed', reason: REASONS.noEmail },
};

/**
 * Whether a reply still waits to be acted on: a reply after the last resume. Someone resuming an
 * enrolment after a reply has read it; only a reply that comes after that counts again. The
 * database asks the same question in SQL (`replyUnhandledSql` in db/enrolment-queries.ts).
 */
export function replyUnhandled(enrolment: { repliedAt: Date | null; resumedAt: Date | null }): boolean {
  return enrolment.repliedAt !== null && (enrolment.resumedAt === null || enrolment.repliedAt > enrolment.resumedAt);
}
