import type { OnReplyAction, SequenceStatus } from '../db/schema.js';
import { activeTrip, protectionReason, type ProtectionTrip } from './deliverability.js';
import { REASONS, type EnrolmentStatus } from './enrolment-status.js';
import { replyUnhandled, SUPPRESSION_OUTCOME, suppressionOf } from './suppression.js';

type SuppressibleLead = Parameters<typeof suppressionOf>[0];

/**
 * Whether an enrolment may send right now, judged from the database at the moment of sending.
 * A signal can race a send; this check under a row lock is what makes "a reply recorded first
 * stops the next step" true.
 */
export function sendBlocker(input: {
  enrolmentStatus: EnrolmentStatus;
  sequenceStatus: SequenceStatus;
  /** The sequence's breaker trip, when it has one: a paused sequence then says the breaker paused it. */
  sequenceProtection?: ProtectionTrip | null;
  onReply: OnReplyAction;
  lead: SuppressibleLead;
  repliedAt: Date | null;
  resumedAt: Date | null;
  /** A retired sender sends nothing more: the enrolment waits, paused, to be moved to another. */
  senderRetired?: boolean;
  /** The breaker's trip on the sender's own emails: nothing goes as them until a person resumes them. */
  senderProtection?: ProtectionTrip | null;
}): { status: EnrolmentStatus | null; reason: string } | null {
  if (input.enrolmentStatus !== 'active') return { status: input.enrolmentStatus, reason: `enrolment is ${input.enrolmentStatus}` };
  const suppression = suppressionOf(input.lead);
  if (suppression) return SUPPRESSION_OUTCOME[suppression];
  const sequence = sequenceHold(input.sequenceStatus, input.sequenceProtection);
  if (sequence) return sequence;
  if (replyUnhandled(input) && input.onReply === 'stop') return { status: 'replied', reason: REASONS.replied };
  if (replyUnhandled(input) && input.onReply === 'pause') return { status: 'paused', reason: REASONS.replied };
  // After the reply: a lead who answered ends (or pauses) as the reply says, whoever sends.
  return senderHold(input.senderRetired ?? false, input.senderProtection);
}

/** What a live enrolment of a retired or tripped sender becomes, and why. */
export function senderHold(retired: boolean, protection?: ProtectionTrip | null): { status: 'paused'; reason: string } | null {
  if (retired) return { status: 'paused', reason: REASONS.senderRetired };
  const trip = activeTrip(protection);
  return trip ? { status: 'paused', reason: protectionReason(trip) } : null;
}

/** What a live enrolment of a paused or archived sequence becomes, and why (a person's pause, or the breaker's). */
export function sequenceHold(
  status: SequenceStatus,
  protection?: ProtectionTrip | null,
): { status: 'stopped' | 'paused'; reason: string } | null {
  if (status === 'archived') return { status: 'stopped', reason: REASONS.sequenceArchived };
  const trip = activeTrip(protection);
  if (status === 'paused') return { status: 'paused', reason: trip ? protectionReason(trip) : REASONS.sequencePaused };
  return null;
}

export type EnrolRefusal =
  | 'no_email'
  | 'unsubscribed'
  | 'bounced'
  | 'do_not_contact'
  | 'already_enrolled'
  | 'active_in_other_sequence'
  | 'missing_merge_fields'
  | 'plan_limit_active_enrolments'
  | 'sequence_archived'
  | 'sequence_has_no_steps'
  | 'lead_not_found'
  | 'duplicate_in_request';

export const REFUSAL_MESSAGES: Record<EnrolRefusal, string> = {
  no_email: 'the lead has no email address',
  unsubscribed: 'the lead has unsubscribed',
  bounced: "the lead's email address bounced",
  do_not_contact: 'the portal marked the lead do not contact',
  already_enrolled: 'the lead is already active in this sequence',
  active_in_other_sequence: 'the lead is active in another sequence and the account forbids parallel enrolment',
  missing_merge_fields: 'the lead lacks fields the emails use',
  plan_limit_active_enrolments: "the account's plan limit of active enrolments is reached",
  sequence_archived: 'the sequence is archived',
  sequence_has_no_steps: 'the sequence has no steps',
  lead_not_found: 'no such lead',
  duplicate_in_request: 'the lead appears more than once in this request',
};

/**
 * Why an account may not enrol anyone yet, or null. A sequence's emails are commercial email, and
 * CAN-SPAM requires a valid postal address in each: without one the account cannot start one.
 */
export function accountRefusal(account: {
  postalAddress: string;
}): { code: 'postal_address_required'; field: 'postalAddress'; message: string } | null {
  if (account.postalAddress.trim()) return null;
  return {
    code: 'postal_address_required',
    field: 'postalAddress',
    message:
      'the account has no postal address, which every commercial email must carry (CAN-SPAM): set postalAddress with PATCH /v1/account, then enrol',
  };
}

/** Why no lead may be enrolled in this sequence now, or null if leads may. */
export function sequenceRefusal(sequence: { status: SequenceStatus; liveStepCount: number }): EnrolRefusal | null {
  if (sequence.status === 'archived') return 'sequence_archived';
  if (sequence.liveStepCount === 0) return 'sequence_has_no_steps';
  return null;
}

/**
 * Why one lead of a request may not be enrolled, or null if it may. Checked in this order, so
 * the answer names the first obstacle: the request itself, the lead's address, other
 * enrolments, the templates' fields, and last the plan's room for more.
 */
export function enrolRefusal(input: {
  duplicateInRequest: boolean;
  /** Undefined when the account has no such lead. */
  lead: SuppressibleLead | undefined;
  activeInThisSequence: boolean;
  activeInOtherSequence: boolean;
  allowParallelEnrolment: boolean;
  missingFields: string[];
  /** How many more live enrolments the plan allows (Infinity without a limit). */
  capacityLeft: number;
}): EnrolRefusal | null {
  if (input.duplicateInRequest) return 'duplicate_in_request';
  if (!input.lead) return 'lead_not_found';
  const suppression = suppressionOf(input.lead);
  if (suppression) return suppression;
  if (input.activeInThisSequence) return 'already_enrolled';
  if (input.activeInOtherSequence && !input.allowParallelEnrolment) return 'active_in_other_sequence';
  if (input.missingFields.length) return 'missing_merge_fields';
  if (input.capacityLeft <= 0) return 'plan_limit_active_enrolments';
  return null;
}
