import type { RetryPolicy } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { EnrolmentStatus } from '../domain/enrolment-status.js';

// The contract between the workflows and everything that talks to them: the API and activities
// (through temporal/workflow-client.ts) and the worker (temporal/worker.ts). Workflow-safe: it
// imports nothing but the SDK's definitions and types. Renaming a signal here is a compile error
// in every caller, and the replay tests (test/replay.test.ts) catch a change to the wire names.

// ── Workflow ids: one execution per thing, so a retried start is refused, never run twice. ──

export const enrolmentWorkflowId = (enrolmentId: string) => `enrolment-${enrolmentId}`;
export const oneOffEmailWorkflowId = (oneOffId: string) => `one-off-${oneOffId}`;
export const replyForwardWorkflowId = (inboundId: string) => `reply-forward-${inboundId}`;
export const portalWebhookWorkflowId = (eventId: string) => `portal-webhook-${eventId}`;
/** A broadcast is one request's action; `unique` tells two identical requests apart. */
export const broadcastWorkflowId = (sequenceId: string, signal: BroadcastSignal, unique: string) =>
  `broadcast-${sequenceId}-${signal}-${unique}`;
/** A retired sender's enrolments paused, or their new sender's re-planned. */
export const senderBroadcastWorkflowId = (senderId: string, signal: SenderBroadcast['signal'], unique: string) =>
  `sender-broadcast-${senderId}-${signal}-${unique}`;
/** An account's live enrolments re-planned (its time zone, holiday country or closures changed). */
export const accountBroadcastWorkflowId = (accountId: string, unique: string) => `account-broadcast-${accountId}-reschedule-${unique}`;
/** The fan-out of one inbound email to the lead's colleagues: once per email, however often it is handled. */
export const colleagueBroadcastWorkflowId = (inboundId: string) => `colleagues-${inboundId}`;

// ── Task queues ──

/**
 * Activities that talk to the email provider run on `<queue>-sends`, whose rate limit the
 * Temporal server enforces across every worker. Which activities those are is decided by their
 * type (`SendingActivities` in activities/index.ts), so a workflow and the worker cannot disagree.
 */
export const sendsTaskQueue = (taskQueue: string) => `${taskQueue}-sends`;

// ── Retry policies ──

/** Sending: a bounded number of attempts (about three hours), so a broken provider fails the
 * enrolment with a reason instead of retrying forever. */
export const SEND_RETRY: RetryPolicy = {
  initialInterval: '5 seconds',
  backoffCoefficient: 2,
  maximumInterval: '10 minutes',
  maximumAttempts: 25,
};
export const SEND_TIMEOUT = '30 seconds';
/** Short database reads and writes (local activities): PostgreSQL away for a few minutes is waited out. */
export const DATABASE_RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 30,
};
/** Paging through a sequence's enrolments to signal them. */
export const BROADCAST_PAGE_RETRY: RetryPolicy = { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 };
/** A portal webhook: retried with backoff for about a day. */
export const PORTAL_WEBHOOK_RETRY: RetryPolicy = {
  initialInterval: '5 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 hour',
  maximumAttempts: 35,
};

// ── The enrolment workflow's messages ──

/** What a person, a reply or a provider event can do to a live enrolment. */
export const CONTROL_ACTIONS = ['pause', 'resume', 'stop', 'reply', 'unsubscribe', 'bounce'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];
export const isControlAction = (action: unknown): action is ControlAction => CONTROL_ACTIONS.includes(action as ControlAction);

/** A reason (a colleague replied, a portal event) goes on the timeline; a person's pause gives none. */
export const pauseSignal = defineSignal<[{ reason?: string; inboundId?: string }?]>('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal<[{ reason?: string }?]>('stop');
export const replySignal = defineSignal('reply');
export const unsubscribeSignal = defineSignal('unsubscribe');
export const bounceSignal = defineSignal('bounce');
/**
 * The lead is away (an out-of-office reply): a live, active enrolment waits until `until`, then
 * resumes by itself. A manual pause or resume, or a real reply, ends the wait.
 */
export const outOfOfficeSignal = defineSignal<[{ until: string }]>('outOfOffice');
/** Steps or settings of the sequence changed: plan the next step again. */
export const rescheduleSignal = defineSignal('reschedule');

export const stateQuery = defineQuery<EnrolmentState>('state');
/** Same effect as the signals, but answers once the new status is in the database. */
export const controlUpdate = defineUpdate<EnrolmentState, [ControlAction]>('control');

/** What a sequence-wide action carries to every live enrolment. */
export const BROADCAST_SIGNALS = ['pause', 'resume', 'stop', 'reschedule'] as const;
export type BroadcastSignal = (typeof BROADCAST_SIGNALS)[number];

export interface EnrolmentInput {
  enrolmentId: string;
  /** Set by continue-as-new: what the previous run knew. */
  carried?: CarriedState;
  /** History length after which the run continues as new (tests set it low). */
  historyBound?: number;
}

export interface CarriedState {
  enrolledAt: string;
  status: EnrolmentStatus;
  persistedStatus: EnrolmentStatus;
  endedReason: string | null;
  pendingReply: boolean;
  sentCount: number;
  lastStepId: string | null;
  lastSentAt: string | null;
  /** The step the run was told to send later (daily cap, provider quota), and until when. */
  postponed?: { stepId: string; until: string; reason: string };
  /** Paused until the lead is back from an out-of-office, and what the database knows of it. */
  awayUntil?: string | null;
  persistedAwayUntil?: string | null;
  /** Back from an out-of-office at this time: the next step is not due before it. */
  notBefore?: string;
  /** Why the status the run had not recorded yet changed (a reason a signal gave), and the email behind it. */
  liveReason?: string;
  liveInboundId?: string;
}

export interface EnrolmentState {
  enrolmentId: string;
  status: EnrolmentStatus;
  endedReason: string | null;
  sentCount: number;
  lastStepId: string | null;
  lastSentAt: string | null;
  /** Paused until then, waiting for the lead's return (out of office); null for any other pause. */
  pausedUntil: string | null;
  /** `variant`: which of the step's variants this enrolment gets, when the step is an experiment. */
  nextStep: {
    stepId: string;
    number: number;
    of: number;
    subject: string;
    dueAt: string;
    variant?: { id: string; label: string };
  } | null;
}

/**
 * What a broadcast signals, and to which live enrolments: a sequence's, or the colleagues of a lead
 * who replied (leads with the same company key, the lead aside; in one sequence or the account).
 */
export type BroadcastInput = SequenceBroadcast | ColleagueBroadcast | SenderBroadcast | AccountBroadcast;
/** Every live enrolment of an account re-planned: a setting every schedule reads changed. */
export interface AccountBroadcast {
  accountOf: { accountId: string };
  signal: 'reschedule';
  reason: string;
}
/**
 * A sender's live enrolments: paused when the sender is retired (one not started yet is
 * signalled-with-start), or re-planned when they were moved to this sender.
 */
export interface SenderBroadcast {
  senderOf: { accountId: string; senderId: string };
  /** `resume`: only the enrolments the breaker paused with this `reason` (the sender was resumed). */
  signal: 'pause' | 'reschedule' | 'resume';
  reason: string;
}
export interface SequenceBroadcast {
  sequenceId: string;
  signal: BroadcastSignal;
  reason?: string;
}
export interface ColleagueBroadcast {
  colleaguesOf: ColleagueSelection;
  /** The inbound email whose reply this carries: its pauses name it, and its undo finds them by it. */
  inboundId?: string;
  /**
   * `resume` undoes a pause (a user corrected the reply that made it): only the colleagues whose
   * last status change is the pause `inboundId` made.
   */
  signal: 'pause' | 'stop' | 'resume';
  reason: string;
}

export interface ColleagueSelection {
  accountId: string;
  companyKey: string;
  exceptLeadId: string;
  /** Only this sequence's enrolments; without it, every sequence of the account. */
  sequenceId?: string;
}

/** What the portal is told (activities/portal-webhook.ts delivers it, signed). */
export type PortalEventType =
  | 'reply.received'
  | 'inbound.classified'
  | 'inbound.corrected'
  | 'lead.bounced'
  | 'lead.unsubscribed'
  | 'enrolment.ended'
  | 'experiment.variant_stopped'
  | 'sequence.paused'
  | 'sender.paused';

export interface PortalEvent {
  id: string;
  type: PortalEventType;
  accountId: string;
  createdAt: string;
  data: Record<string, unknown>;
}
