import type { EnrolmentStatus, OnReplyAction } from '../db/schema.js';

/**
 * Whether an enrolment may send right now, judged from the database at the moment of sending.
 * A signal can race a send; this check under a row lock is what makes "a reply recorded first
 * stops the next step" true.
 */
export function sendBlocker(input: {
  enrolmentStatus: EnrolmentStatus;
  sequenceStatus: 'active' | 'paused' | 'archived';
  onReply: OnReplyAction;
  leadEmail: string | null;
  leadUnsubscribedAt: Date | null;
  leadBouncedAt: Date | null;
  repliedAt: Date | null;
  resumedAt: Date | null;
}): { status: EnrolmentStatus | null; reason: string } | null {
  if (input.enrolmentStatus !== 'active') return { status: input.enrolmentStatus, reason: `enrolment is ${input.enrolmentStatus}` };
  if (input.leadUnsubscribedAt) return { status: 'unsubscribed', reason: 'the lead unsubscribed' };
  if (input.leadBouncedAt) return { status: 'bounced', reason: 'the email address bounced' };
  if (!input.leadEmail) return { status: 'failed', reason: 'the lead has no email address' };
  if (input.sequenceStatus === 'archived') return { status: 'stopped', reason: 'the sequence was archived' };
  if (input.sequenceStatus === 'paused') return { status: 'paused', reason: 'the sequence is paused' };
  const replyUnhandled = input.repliedAt && (!input.resumedAt || input.repliedAt > input.resumedAt);
  if (replyUnhandled && input.onReply === 'stop') return { status: 'replied', reason: 'the lead replied' };
  if (replyUnhandled && input.onReply === 'pause') return { status: 'paused', reason: 'the lead replied' };
  return null;
}

export type EnrolRefusal =
  | 'no_email'
  | 'unsubscribed'
  | 'bounced'
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
  already_enrolled: 'the lead is already active in this sequence',
  active_in_other_sequence: 'the lead is active in another sequence and the account forbids parallel enrolment',
  missing_merge_fields: 'the lead lacks fields the emails use',
  plan_limit_active_enrolments: "the account's plan limit of active enrolments is reached",
  sequence_archived: 'the sequence is archived',
  sequence_has_no_steps: 'the sequence has no steps',
  lead_not_found: 'no such lead',
  duplicate_in_request: 'the lead appears more than once in this request',
};

/** Why one lead may not be enrolled, or null if it may. Checked in this order. */
export function enrolRefusal(input: {
  leadEmail: string | null;
  leadUnsubscribed: boolean;
  leadBounced: boolean;
  activeInThisSequence: boolean;
  activeInOtherSequence: boolean;
  allowParallelEnrolment: boolean;
  missingFields: string[];
}): EnrolRefusal | null {
  if (!input.leadEmail) return 'no_email';
  if (input.leadUnsubscribed) return 'unsubscribed';
  if (input.leadBounced) return 'bounced';
  if (input.activeInThisSequence) return 'already_enrolled';
  if (input.activeInOtherSequence && !input.allowParallelEnrolment) return 'active_in_other_sequence';
  if (input.missingFields.length) return 'missing_merge_fields';
  return null;
}
