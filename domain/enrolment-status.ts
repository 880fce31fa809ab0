// The statuses of an enrolment and the words the product uses for why it ended. Pure and
// dependency-free: the workflow, the activities, the API and the database schema all read it.

export const ENROLMENT_STATUSES = ['active', 'paused', 'replied', 'completed', 'stopped', 'unsubscribed', 'bounced', 'failed'] as const;
export type EnrolmentStatus = (typeof ENROLMENT_STATUSES)[number];

/** An enrolment in these still has a workflow that can send; every other status is final. */
export const LIVE_ENROLMENT_STATUSES = ['active', 'paused'] as const satisfies readonly EnrolmentStatus[];
export type LiveEnrolmentStatus = (typeof LIVE_ENROLMENT_STATUSES)[number];
export const FINAL_ENROLMENT_STATUSES = ENROLMENT_STATUSES.filter(
  (s): s is Exclude<EnrolmentStatus, LiveEnrolmentStatus> => !(LIVE_ENROLMENT_STATUSES as readonly string[]).includes(s),
);

export const isLive = (status: EnrolmentStatus): status is LiveEnrolmentStatus =>
  (LIVE_ENROLMENT_STATUSES as readonly string[]).includes(status);

/** Why an enrolment stopped, paused or ended, as its timeline, the API and the Temporal UI say it. */
export const REASONS = {
  stoppedByUser: 'stopped by a user',
  unsubscribed: 'the lead unsubscribed',
  bounced: 'the email address bounced',
  doNotContact: 'the portal marked the lead do not contact',
  noEmail: 'the lead has no email address',
  replied: 'the lead replied',
  outOfOffice: 'the lead is out of office',
  backFromOutOfOffice: 'the lead is back from out of office',
  sequenceArchived: 'the sequence was archived',
  sequencePaused: 'the sequence is paused',
  senderRetired: 'its sender was retired: move it to another sender to go on',
  allStepsSent: 'all steps sent',
  heldOut: 'in the experiment holdout: no follow-up after step 1',
  enrolmentGone: 'the enrolment no longer exists',
} as const;
