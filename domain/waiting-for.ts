import type { EnrolmentStatus } from './enrolment-status.js';
import { REASONS } from './enrolment-status.js';
import { protectionCauseOf } from './deliverability.js';
import { markdownText } from './markdown-text.js';
import type { PausedBy, WaitingCause, WaitingFor } from '../db/schema.js';

// "Why hasn't it sent yet?": every live enrolment says what its next email waits for. The plan
// writes the schedule's wait (a delay, the send window, a holiday), a send over a cap or a quota
// writes that, and a pause recorded writes who paused it. These are the rules that read it.

export const WAITING_CAUSES = [
  'delay',
  'send_window',
  'holiday',
  'daily_cap',
  'domain_cap',
  'new_leads_cap',
  'provider_quota',
  'out_of_office',
  'paused',
  'bounce_protection',
  'complaint_protection',
] as const satisfies readonly WaitingCause[];

/** The waits of a paused enrolment: what paused it. */
export const PAUSED_CAUSES: readonly WaitingCause[] = ['paused', 'out_of_office', 'bounce_protection', 'complaint_protection'];

export const PAUSED_BY = [
  'user',
  'sequence',
  'sender_retired',
  'reply',
  'colleague_reply',
  'lead_event',
] as const satisfies readonly PausedBy[];

/**
 * Who paused an enrolment, read from the reason its pause was recorded with. The reasons are the
 * product's words (REASONS, and the sentences api/services/inbound.ts, senders.ts and
 * domain/lead-events.ts build); a pause without one is a person's (the API, or the Temporal CLI).
 */
export function pausedBy(reason: string | null, inboundId?: string | null): PausedBy {
  if (!reason) return 'user';
  if (reason === REASONS.sequencePaused) return 'sequence';
  if (reason === REASONS.replied) return 'reply';
  if (inboundId || reason.startsWith('a colleague replied')) return 'colleague_reply';
  if (reason === REASONS.senderRetired || (reason.startsWith('the sender ') && reason.endsWith(' was retired'))) return 'sender_retired';
  if (reason.startsWith('the portal reported ')) return 'lead_event';
  return 'user';
}

/** What a paused enrolment waits for: the lead's return from an out-of-office, or whoever paused it. */
export function pausedWait(input: { reason: string | null; inboundId?: string | null; pausedUntil: Date | null }): WaitingFor {
  if (input.pausedUntil) return { cause: 'out_of_office', until: input.pausedUntil.toISOString() };
  const breaker = protectionCauseOf(input.reason);
  if (breaker) return { cause: breaker, reason: input.reason! };
  return { cause: 'paused', by: pausedBy(input.reason, input.inboundId), reason: input.reason };
}

/**
 * The wait an enrolment answers with now: a paused one's pause (one recorded before waits were
 * written says it was a person's), an active one's wait until it is over (the email is then on its
 * way), nothing for an ended one.
 */
export function currentWait(
  e: { status: EnrolmentStatus; waitingFor: WaitingFor | null; pausedUntil: Date | null },
  now: number,
): WaitingFor | null {
  if (e.status === 'paused') {
    if (e.waitingFor && PAUSED_CAUSES.includes(e.waitingFor.cause)) return e.waitingFor;
    return pausedWait({ reason: null, pausedUntil: e.pausedUntil });
  }
  if (e.status !== 'active' || !e.waitingFor || !('until' in e.waitingFor)) return null;
  if (Date.parse(e.waitingFor.until) <= now) return null;
  // A cap's queue key orders the waiting emails; it is ours, not the answer's.
  if ('queue' in e.waitingFor) {
    const { queue: _queue, ...shown } = e.waitingFor;
    return shown as WaitingFor;
  }
  return e.waitingFor;
}

/** A few words for the Temporal UI's summary of a planned step, after its due time. */
export function waitSummary(wait: WaitingFor): string {
  switch (wait.cause) {
    case 'holiday':
      return ` (after ${markdownText(wait.holiday.name, 80)}${wait.holiday.region ? `, ${wait.holiday.region}` : ', a company closure'})`;
    case 'send_window':
      return ' (at the send window’s opening)';
    default:
      return '';
  }
}
