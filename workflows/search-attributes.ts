import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// What operators filter on in the Temporal UI, e.g.
// `EnrolmentStatus = "paused" AND SequenceId = "…"`. Registered on the dev server by `npm start`
// and on a cluster with `temporal operator search-attribute create` (see RUNBOOK.md).

export const AccountId = defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD);
export const SequenceId = defineSearchAttributeKey('SequenceId', SearchAttributeType.KEYWORD);
export const LeadId = defineSearchAttributeKey('LeadId', SearchAttributeType.KEYWORD);
export const EnrolmentStatus = defineSearchAttributeKey('EnrolmentStatus', SearchAttributeType.KEYWORD);
/** Who the enrolment sends as: what one rep has in flight is `SenderId = "…" AND ExecutionStatus = "Running"`. */
export const SenderId = defineSearchAttributeKey('SenderId', SearchAttributeType.KEYWORD);

export const searchAttributes = [AccountId, SequenceId, LeadId, EnrolmentStatus, SenderId];
