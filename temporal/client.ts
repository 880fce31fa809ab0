import { randomUUID } from 'node:crypto';
import { markdownText } from '../domain/markdown-text.js';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import type { Config } from '../config.js';
import {
  bounceSignal,
  broadcastWorkflowId,
  colleagueBroadcastWorkflowId,
  controlUpdate,
  enrolmentWorkflowId,
  oneOffEmailWorkflowId,
  outOfOfficeSignal,
  pauseSignal,
  portalWebhookWorkflowId,
  replyForwardWorkflowId,
  replySignal,
  rescheduleSignal,
  senderBroadcastWorkflowId,
  accountBroadcastWorkflowId,
  type AccountBroadcast,
  resumeSignal,
  stopSignal,
  unsubscribeSignal,
  type ColleagueBroadcast,
  type SenderBroadcast,
  type SequenceBroadcast,
  type ControlAction,
  type EnrolmentInput,
  type EnrolmentState,
  type PortalEvent,
} from '../workflows/contract.js';
import { enrolmentWorkflow } from '../workflows/enrolment.js';
import { replyForwardWorkflow, portalWebhookWorkflow } from '../workflows/notifications.js';
import { oneOffEmailWorkflow } from '../workflows/one-off-email.js';
import { AccountId, EnrolmentStatus, LeadId, SenderId, SequenceId } from '../workflows/search-attributes.js';
import { sequenceBroadcastWorkflow } from '../workflows/sequence-broadcast.js';

// Every call the API and the activities make to Temporal goes through this module. Workflows are
// named by their function and messages by their definitions (workflows/contract.ts), so renaming
// either is a compile error here, and the SDK's typed errors say what happened.

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace });
}

interface TemporalDeps {
  temporal: Client;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
}

/** The names and ids a workflow start needs, for the Temporal UI's summary and search. */
export interface StartableEnrolment {
  id: string;
  accountId: string;
  sequenceId: string;
  leadId: string;
  leadEmail: string | null;
  sequenceName: string;
  /** Who it sends as (its SenderId search attribute); null when the account had no sender. */
  senderId: string | null;
}

/**
 * Starts an enrolment's workflow; starting it again is harmless. Returns false when it had been
 * started before (it may be running, or finished: an enrolment never runs twice).
 */
export async function startEnrolment(deps: TemporalDeps, row: StartableEnrolment): Promise<boolean> {
  try {
    await deps.temporal.workflow.start(enrolmentWorkflow, enrolmentStartOptions(deps, row));
    return true;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw error;
  }
}

/** How an enrolment's workflow is started, whoever starts it (the benchmark's raw starts too). */
export const enrolmentStartOptions = (deps: Pick<TemporalDeps, 'config'>, row: StartableEnrolment) => ({
  workflowId: enrolmentWorkflowId(row.id),
  // A retried request or the sweeper may start it after it has already finished (its start
  // was never recorded): that must not run it anew.
  workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
  taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
  args: [{ enrolmentId: row.id }] as [EnrolmentInput],
  typedSearchAttributes: [
    { key: AccountId, value: row.accountId },
    { key: SequenceId, value: row.sequenceId },
    { key: LeadId, value: row.leadId },
    { key: EnrolmentStatus, value: 'active' },
    ...(row.senderId ? [{ key: SenderId, value: row.senderId }] : []),
  ],
  staticSummary: markdownText(`${row.leadEmail ?? 'lead ' + row.leadId} in '${row.sequenceName}'`),
  staticDetails: `Enrolment ${row.id} · lead ${row.leadId} · sequence ${row.sequenceId} · account ${row.accountId}`,
});

/**
 * Pauses or stops an enrolment whose workflow may not have started yet (committed, its start
 * still on its way or left to the sweeper): signal-with-start, so the workflow's first task holds
 * the signal before it plans or sends anything, and a start racing this one finds it started
 * (startEnrolment answers false, as for any second start). Returns false when its workflow has
 * ended: an enrolment never runs twice (REJECT_DUPLICATE), and an ended one needs nothing.
 */
export async function signalWithStartEnrolment(
  deps: TemporalDeps,
  row: StartableEnrolment,
  signal: 'pause' | 'stop',
  options: { reason: string; inboundId?: string },
): Promise<boolean> {
  try {
    const start = enrolmentStartOptions(deps, row);
    const args = { reason: options.reason, ...(options.inboundId ? { inboundId: options.inboundId } : {}) };
    await (signal === 'pause'
      ? deps.temporal.workflow.signalWithStart(enrolmentWorkflow, { ...start, signal: pauseSignal, signalArgs: [args] })
      : deps.temporal.workflow.signalWithStart(enrolmentWorkflow, {
          ...start,
          signal: stopSignal,
          signalArgs: [{ reason: options.reason }],
        }));
    return true;
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw error;
  }
}

const SIGNALS_WITHOUT_ARGUMENTS = {
  pause: pauseSignal,
  resume: resumeSignal,
  reschedule: rescheduleSignal,
  reply: replySignal,
  unsubscribe: unsubscribeSignal,
  bounce: bounceSignal,
} as const;

/** The signals anything outside the workflow sends to an enrolment, by the action's name. */
export type EnrolmentSignal = keyof typeof SIGNALS_WITHOUT_ARGUMENTS | 'stop' | 'outOfOffice';

/**
 * Signals an enrolment's workflow. Returns false when there is no running workflow to signal
 * (it ended, or has not been started yet): callers rely on the workflow reading the database
 * when it starts or plans, so that is not an error.
 */
export async function signalEnrolment(
  deps: Pick<TemporalDeps, 'temporal'>,
  enrolmentId: string,
  signal: EnrolmentSignal,
  options: { reason?: string; until?: Date; inboundId?: string } = {},
): Promise<boolean> {
  const handle = deps.temporal.workflow.getHandle(enrolmentWorkflowId(enrolmentId));
  try {
    if (signal === 'stop') await (options.reason ? handle.signal(stopSignal, { reason: options.reason }) : handle.signal(stopSignal));
    else if (signal === 'pause' && options.reason)
      await handle.signal(pauseSignal, { reason: options.reason, ...(options.inboundId ? { inboundId: options.inboundId } : {}) });
    else if (signal === 'outOfOffice') {
      if (!options.until) throw new Error('an out-of-office signal needs the date the lead is back');
      await handle.signal(outOfOfficeSignal, { until: options.until.toISOString() });
    } else await handle.signal(SIGNALS_WITHOUT_ARGUMENTS[signal]);
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

export type ControlOutcome =
  /** Applied, and the new status is in the database. */
  | { outcome: 'applied'; state: EnrolmentState }
  /** The workflow has ended (or never existed): nothing to control. */
  | { outcome: 'ended' }
  /** Not answered within the deadline: accepted by the server, or queued, and applied later. */
  | { outcome: 'pending' };

/** Applies an action through the `control` update, waiting at most `deadlineMs` for the answer. */
export async function updateEnrolment(
  deps: Pick<TemporalDeps, 'temporal'>,
  enrolmentId: string,
  action: ControlAction,
  deadlineMs: number,
): Promise<ControlOutcome> {
  const handle = deps.temporal.workflow.getHandle(enrolmentWorkflowId(enrolmentId));
  try {
    const state = await deps.temporal.withDeadline(Date.now() + deadlineMs, () => handle.executeUpdate(controlUpdate, { args: [action] }));
    return { outcome: 'applied', state };
  } catch (error) {
    // Updating a closed workflow is refused with NOT_FOUND, which the SDK raises as this.
    if (error instanceof WorkflowNotFoundError) return { outcome: 'ended' };
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return { outcome: 'pending' };
    throw error;
  }
}

/** Starts the durable broadcast of a sequence-wide action; returns its workflow id. */
export async function startSequenceBroadcast(deps: TemporalDeps, input: SequenceBroadcast, unique: string): Promise<string> {
  const workflowId = broadcastWorkflowId(input.sequenceId, input.signal, unique);
  await deps.temporal.workflow.start(sequenceBroadcastWorkflow, {
    workflowId,
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    args: [input],
    staticSummary: markdownText(`${input.signal} every live enrolment of sequence ${input.sequenceId}`),
  });
  return workflowId;
}

/** Starts carrying a sender's retirement to their live enrolments (pause) or their new sender's (re-plan). */
export async function startSenderBroadcast(deps: TemporalDeps, input: SenderBroadcast): Promise<string> {
  const workflowId = senderBroadcastWorkflowId(input.senderOf.senderId, input.signal, randomUUID());
  await deps.temporal.workflow.start(sequenceBroadcastWorkflow, {
    workflowId,
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    args: [input],
    staticSummary: markdownText(`${input.signal} the live enrolments of sender ${input.senderOf.senderId}: ${input.reason}`),
  });
  return workflowId;
}

/** Starts re-planning every live enrolment of an account (a setting every schedule reads changed). */
export async function startAccountBroadcast(deps: TemporalDeps, input: AccountBroadcast): Promise<string> {
  const workflowId = accountBroadcastWorkflowId(input.accountOf.accountId, randomUUID());
  await deps.temporal.workflow.start(sequenceBroadcastWorkflow, {
    workflowId,
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    args: [input],
    staticSummary: markdownText(`re-plan the live enrolments of account ${input.accountOf.accountId}: ${input.reason}`),
  });
  return workflowId;
}

/**
 * Starts carrying a reply's effect to the lead's colleagues (the same fan-out as a sequence-wide
 * action), once per inbound email: a second start for the same email does nothing.
 */
export async function startColleagueBroadcast(deps: TemporalDeps, inboundId: string, input: ColleagueBroadcast): Promise<void> {
  try {
    await deps.temporal.workflow.start(sequenceBroadcastWorkflow, {
      workflowId: colleagueBroadcastWorkflowId(inboundId),
      // Once ever, not once at a time: a redelivered email must not pause colleagues a person resumed since.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [input],
      staticSummary: markdownText(`${input.signal} the colleagues' enrolments: ${input.reason}`),
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/** Starts the workflow that sends a one-off email. */
export async function startOneOffEmail(deps: TemporalDeps, oneOffId: string, summary: string): Promise<void> {
  await deps.temporal.workflow.start(oneOffEmailWorkflow, {
    workflowId: oneOffEmailWorkflowId(oneOffId),
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    args: [{ oneOffId }],
    staticSummary: markdownText(summary),
  });
}

/** Starts forwarding a received email to the user, once per received email. */
export async function startReplyForward(deps: TemporalDeps, inboundId: string, summary: string): Promise<void> {
  try {
    await deps.temporal.workflow.start(replyForwardWorkflow, {
      workflowId: replyForwardWorkflowId(inboundId),
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [{ inboundId }],
      staticSummary: markdownText(summary),
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/** Starts delivering one portal webhook, once per event id. */
export async function startPortalWebhook(
  deps: TemporalDeps,
  event: PortalEvent,
  summary: string,
  options: { once?: boolean } = {},
): Promise<void> {
  try {
    await deps.temporal.workflow.start(portalWebhookWorkflow, {
      workflowId: portalWebhookWorkflowId(event.id),
      // Once: a delivery that ended well is not run again; one that failed for good may be.
      ...(options.once ? { workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' as const } : {}),
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [event],
      staticSummary: markdownText(summary),
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
