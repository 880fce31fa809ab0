import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  ActivityFailure,
} from '@temporalio/workflow';
import type { DatabaseActivities, NextStepPlan } from '../activities/index.js';
import { isLive, REASONS, type EnrolmentStatus } from '../domain/enrolment-status.js';
import { markdownText } from '../domain/markdown-text.js';
import {
  bounceSignal,
  controlUpdate,
  DATABASE_RETRY,
  isControlAction,
  outOfOfficeSignal,
  pauseSignal,
  replySignal,
  rescheduleSignal,
  resumeSignal,
  stateQuery,
  stopSignal,
  unsubscribeSignal,
  type CarriedState,
  type ControlAction,
  type EnrolmentInput,
  type EnrolmentState,
} from './contract.js';
import { localSendingActivities, sendingActivities } from './proxies.js';
import { EnrolmentStatus as EnrolmentStatusKey, SenderId as SenderIdKey } from './search-attributes.js';

// Short database reads and writes run as local activities: in the worker, inside the workflow
// task, with no round trip through the server (about half its work per enrolment: bench/README.md).
const { planNextStep, recordStatus, recordReply } = proxyLocalActivities<DatabaseActivities>({
  startToCloseTimeout: '30 seconds',
  localRetryThreshold: '10 seconds',
  retry: DATABASE_RETRY,
});

/** Continue-as-new well before Temporal's 51,200-event limit. */
const HISTORY_BOUND = 5_000;

/**
 * One enrolment of one lead in one sequence. The workflow sleeps until the next step is due,
 * sends it, and repeats until the steps run out or a signal ends it. The database mirrors every
 * status change (through activities) so the portal sees what the Temporal UI sees.
 */
export async function enrolmentWorkflow(input: EnrolmentInput): Promise<EnrolmentState> {
  const { enrolmentId } = input;
  // Sending talks to the provider on the rate-limited sends queue, with a bounded number of
  // attempts: a broken provider fails the enrolment with a reason instead of retrying forever.
  const { sendStep } = sendingActivities();
  const { sendStep: sendStepLocally } = localSendingActivities();
  const carried = input.carried;
  // Times come from the workflow's clock, so a replay, a restart or a time-skipping test all
  // see the same schedule. The first step's delay counts from the enrolment.
  const enrolledAt = carried?.enrolledAt ?? workflowInfo().startTime.toISOString();
  let status: EnrolmentStatus = carried?.status ?? 'active';
  let persistedStatus: EnrolmentStatus = carried?.persistedStatus ?? 'active';
  let endedReason: string | null = carried?.endedReason ?? null;
  let pendingReply = carried?.pendingReply ?? false;
  let sentCount = carried?.sentCount ?? 0;
  let lastStepId = carried?.lastStepId ?? null;
  let lastSentAt = carried?.lastSentAt ?? null;
  let plan: NextStepPlan | undefined;
  let planStale = true;
  // The postponement of the step the plan holds, kept apart from it so that continue-as-new can
  // carry it: a new run plans again, and would otherwise send a step that was told to wait.
  let postponed: NonNullable<CarriedState['postponed']> | null = null;
  // Only ever set by a run that continued as new with a postponement, so histories written before
  // there was such a field never take this path: the workflow input is the version marker here,
  // and no patch is needed.
  let carriedPostponement: NonNullable<CarriedState['postponed']> | null = carried?.postponed ?? null;
  // An update waits for its status to be recorded, so a run that must continue as new while one
  // waits goes round the loop first to record it (see the history bound below).
  let continueAsNewOnceSettled = false;
  // Paused until the lead is back from an out-of-office. Only the outOfOffice signal sets it, so
  // histories from before that signal never take its paths: the signal is the version marker.
  let awayUntil: string | null = carried?.awayUntil ?? null;
  let persistedAwayUntil: string | null = carried?.persistedAwayUntil ?? null;
  // Why a live enrolment changed status, when the change has a reason (an out-of-office, a
  // colleague's reply). Carried across continue-as-new while the change is not recorded yet.
  let liveReason: string | null = carried?.liveReason ?? null;
  // The inbound email behind that reason (a colleague's reply), so that a user's correction of
  // the email can find the pauses it made and only those.
  let liveInboundId: string | null = carried?.liveInboundId ?? null;
  // When the lead came back: a step that fell due meanwhile waits for its window from then on.
  let notBefore: string | null = carried?.notBefore ?? null;
  // Why the recorded pause happened, for the Temporal UI's details (details are no command: no patch).
  let pausedWhy: string | null = null;

  const live = () => isLive(status);
  const end = (to: EnrolmentStatus, reason: string) => {
    if (!live()) return;
    status = to;
    endedReason = reason;
    awayUntil = null;
  };
  const apply = (action: ControlAction) => {
    switch (action) {
      case 'pause':
        if (status === 'active') {
          status = 'paused';
          liveReason = null;
          liveInboundId = null;
        }
        awayUntil = null; // a person's pause waits for a person, not for a date
        break;
      case 'resume':
        if (status === 'paused') {
          status = 'active';
          // A step that fell due during the pause goes at the next opening of its send window from
          // now, not at once at any hour: plan again, not before now. Runs from before this rule
          // sent it at once, and on replay they still must.
          if (patched('resume-plans-again')) {
            planStale = true;
            notBefore = new Date().toISOString();
          }
        }
        awayUntil = null;
        liveReason = null;
        liveInboundId = null;
        break;
      case 'stop':
        return end('stopped', REASONS.stoppedByUser);
      case 'reply':
        if (live()) pendingReply = true;
        break;
      case 'unsubscribe':
        return end('unsubscribed', REASONS.unsubscribed);
      case 'bounce':
        return end('bounced', REASONS.bounced);
    }
  };
  // Queries and update answers only: neither is a command, and an update's answer in a history is
  // not compared on replay (core matches update events by id), so this needs no patch.
  const state = (): EnrolmentState => ({
    enrolmentId,
    status,
    endedReason,
    sentCount,
    lastStepId,
    lastSentAt,
    pausedUntil: status === 'paused' ? awayUntil : null,
    nextStep:
      // A stale plan's step is the one just sent (or one an edit has moved): not what comes next.
      plan?.next && live() && !planStale
        ? {
            stepId: plan.next.stepId,
            number: plan.next.number,
            of: plan.next.of,
            subject: plan.next.subject,
            dueAt: plan.next.dueAt,
            ...(plan.next.variant ? { variant: plan.next.variant } : {}),
          }
        : null,
  });
  const settled = () => status === persistedStatus && awayUntil === persistedAwayUntil && !pendingReply;

  setHandler(pauseSignal, (args) => {
    // Waiting for an out-of-office return is a pause the pause replaces (a person's, or one with a
    // reason), so it says why too.
    const changes = status === 'active' || awayUntil !== null;
    apply('pause');
    // Only the pause that changes something says why; a pause without a reason (every history
    // before there were reasons) records what it always did.
    if (changes && args?.reason) {
      liveReason = args.reason;
      liveInboundId = args.inboundId ?? null;
    }
  });
  setHandler(resumeSignal, () => apply('resume'));
  setHandler(stopSignal, (args) => {
    const wasLive = live();
    apply('stop');
    if (!args?.reason || status !== 'stopped') return;
    // Only the stop that ends the enrolment names why. Runs from before this rule let a later stop
    // rename it, and may have written that name to the database: on replay they keep doing so.
    // patched() is asked only for such a later stop, so ordinary histories carry no marker.
    if (wasLive || !patched('stop-reason-from-the-ending-stop')) endedReason = args.reason;
  });
  setHandler(replySignal, () => apply('reply'));
  setHandler(unsubscribeSignal, () => apply('unsubscribe'));
  setHandler(bounceSignal, () => apply('bounce'));
  setHandler(outOfOfficeSignal, ({ until }) => {
    // A worker from before this signal buffered it unhandled; a newer one replaying that history
    // must not apply it either (a rolling deploy). The marker is recorded at the first one handled.
    if (!patched('out-of-office')) return;
    // Only an enrolment that would send waits: a person's pause stays a person's to lift. A later
    // out-of-office moves the date; one already past changes nothing.
    if (Date.parse(until) <= Date.now()) return;
    if (status === 'active' || (status === 'paused' && awayUntil)) {
      status = 'paused';
      awayUntil = until;
    }
  });
  setHandler(rescheduleSignal, () => {
    planStale = true;
  });
  setHandler(stateQuery, state);
  setHandler(
    controlUpdate,
    async (action) => {
      apply(action);
      await condition(settled);
      return state();
    },
    {
      validator: (action) => {
        if (!isControlAction(action)) throw new Error(`unknown action ${action}`);
      },
    },
  );

  // The sender is set at the start; an enrolment from before senders, or one moved to another
  // sender (its sender retired), gets it from a plan. Plans from before senders carry no
  // senderId, so their histories never ask for the patch.
  const noteSender = ({ senderId }: NextStepPlan) => {
    if (senderId && senderId !== workflowInfo().typedSearchAttributes.get(SenderIdKey) && patched('sender-search-attribute')) {
      upsertSearchAttributes([{ key: SenderIdKey, value: senderId }]);
    }
  };

  const continueAsNewWithState = () =>
    continueAsNew<typeof enrolmentWorkflow>({
      enrolmentId,
      historyBound: input.historyBound,
      carried: {
        enrolledAt,
        status,
        persistedStatus,
        endedReason,
        pendingReply,
        sentCount,
        lastStepId,
        lastSentAt,
        // Only a postponement of the step the plan still holds: once sent or planned again, it is spent.
        ...(postponed && !planStale ? { postponed } : {}),
        ...(awayUntil || persistedAwayUntil ? { awayUntil, persistedAwayUntil } : {}),
        ...(notBefore ? { notBefore } : {}),
        ...(liveReason ? { liveReason } : {}),
        ...(liveInboundId ? { liveInboundId } : {}),
      },
    });

  while (true) {
    // 1. Mirror any change of status (from a signal, an update or a send outcome) to the database.
    if (pendingReply) {
      const onReply = await recordReply({ enrolmentId });
      pendingReply = false; // only now: an update waiting on this reply must see its outcome
      if (live()) {
        if (onReply === 'stop') end('replied', REASONS.replied);
        else if (onReply === 'pause') {
          // The reason proves later that this pause was the reply's (a user's correction of the
          // reply lifts only a pause the reply made).
          if (status === 'active' || awayUntil) {
            liveReason = REASONS.replied;
            liveInboundId = null;
          }
          status = 'paused';
        }
        // A real reply says the lead is back: no more waiting for the out-of-office date (with
        // onReply pause the enrolment stays paused, now until a person resumes it).
        if (awayUntil) {
          if (onReply === 'continue') {
            status = 'active';
            // As at the end of a wait: a step that fell due meanwhile goes at its window.
            notBefore = new Date().toISOString();
            planStale = true;
          }
          awayUntil = null;
          if (onReply !== 'pause') {
            liveReason = null;
            liveInboundId = null;
          }
        }
      }
    }
    if (status !== persistedStatus || awayUntil !== persistedAwayUntil) {
      const to = status;
      const until = awayUntil;
      const reason = endedReason ?? (until ? REASONS.outOfOffice : liveReason);
      // The field is sent only once an out-of-office has been in play, so that every other
      // status change records exactly what it did before there were out-of-office waits.
      const away = until !== null || persistedAwayUntil !== null ? { pausedUntil: until } : {};
      const cause = !endedReason && !until && liveReason && liveInboundId ? { inboundId: liveInboundId } : {};
      await recordStatus({ enrolmentId, status: to, reason, ...away, ...cause });
      pausedWhy = to === 'paused' ? reason : null;
      if (to !== persistedStatus) upsertSearchAttributes([{ key: EnrolmentStatusKey, value: to }]);
      persistedStatus = to;
      persistedAwayUntil = until;
      liveReason = null;
      liveInboundId = null;
      continue; // a signal may have arrived during the write
    }
    if (!live()) break;
    if (continueAsNewOnceSettled) {
      // Settled by now: the loop does not get here with a status or a reply left to record.
      await condition(allHandlersFinished);
      await continueAsNewWithState();
    }

    if (status === 'paused' && awayUntil) {
      // Out of office: wait for the date the lead named, then carry on by ourselves.
      const until = awayUntil;
      const summary = `Waiting for the lead's return (out of office) until ${until}`;
      setCurrentDetails(`${summary}. ${sentCount} email(s) sent.`);
      const waitMs = Date.parse(until) - Date.now();
      const interrupted =
        waitMs > 0 && (await condition(() => status !== 'paused' || pendingReply || awayUntil !== until, waitMs, { summary }));
      if (!interrupted && status === 'paused' && awayUntil === until) {
        status = 'active';
        awayUntil = null;
        liveReason = REASONS.backFromOutOfOffice;
        liveInboundId = null;
        notBefore = until;
        planStale = true;
      }
      continue;
    }
    if (status === 'paused') {
      setCurrentDetails(`Paused${pausedWhy ? ` (${markdownText(pausedWhy)})` : ''}. ${sentCount} email(s) sent.`);
      await condition(() => status !== 'paused' || pendingReply);
      continue;
    }

    // 2. Know the next step and when it is due. Re-planned after every send and every edit.
    if (planStale || !plan) {
      planStale = false;
      plan = await planNextStep({ enrolmentId, previousAt: lastSentAt ?? enrolledAt, ...(notBefore ? { notBefore } : {}) });
      postponed = null;
      noteSender(plan);
      if (carriedPostponement && plan.next) {
        // The previous run's postponement holds for the step it was about, no longer for another.
        const { stepId, until, reason } = carriedPostponement;
        if (plan.next.stepId === stepId && Date.parse(until) > Date.parse(plan.next.dueAt)) {
          postponed = carriedPostponement;
          plan = { ...plan, next: { ...plan.next, dueAt: until, summary: `${plan.next.summary} (postponed: ${markdownText(reason)})` } };
        }
      }
      carriedPostponement = null;
      if (plan.adoptStatus && plan.adoptStatus !== status) {
        // The database knows better (a sequence-wide pause or a suppression that reached it first).
        if (plan.adoptStatus === 'paused') status = 'paused';
        else end(plan.adoptStatus, plan.reason ?? plan.adoptStatus);
        continue;
      }
      if (!plan.next) {
        end('completed', REASONS.allStepsSent);
        continue;
      }
    }
    const next = plan.next!;

    // 3. Sleep until due; any signal or edit wakes us to re-evaluate (the updatable-timer pattern).
    const waitMs = Date.parse(next.dueAt) - Date.now();
    if (waitMs > 0) {
      setCurrentDetails(next.summary);
      const interrupted = await condition(() => status !== 'active' || planStale || pendingReply, waitMs, {
        summary: next.summary,
      });
      if (interrupted) continue;
    }

    // 4. Send. The activity re-checks suppression itself: a signal can race the send. With no
    // send rate set it runs here, as a local activity; only a local activity's plan says so, so a
    // history recorded before this, or planned by the sends queue, replays as it was written.
    const sendsLocally = plan.sendsLocally === true;
    let outcome;
    try {
      const send = sendsLocally ? sendStepLocally : sendStep;
      outcome = await send({ enrolmentId, stepId: next.stepId, now: new Date().toISOString() });
    } catch (error) {
      if (error instanceof ActivityFailure) {
        const cause = error.cause instanceof ApplicationFailure ? error.cause.message : error.message;
        log.warn('sending failed for good', { enrolmentId, stepId: next.stepId, cause });
        end('failed', `sending step ${next.number} failed: ${cause}`);
        continue;
      }
      throw error;
    }
    switch (outcome.outcome) {
      case 'sent': {
        sentCount++;
        notBefore = null;
        lastStepId = next.stepId;
        // The send decided and wrote what follows (its next plan, or the completion), unless an
        // edit asked for a new plan meanwhile. Sends from before this answer carry none, so their
        // histories never ask for the patch; workers from before it plan, as below. A local send's
        // answer comes from this very worker, and no history before it has one: no patch.
        const following = outcome.following;
        if (following && !planStale && (sendsLocally || patched('send-plans-next'))) {
          lastSentAt = following.previousAt;
          if ('completed' in following) {
            // Recorded by the send: the email is the last, whatever a signal said meanwhile.
            status = 'completed';
            endedReason = following.completed.reason;
            awayUntil = persistedAwayUntil = null;
            liveReason = liveInboundId = null;
            upsertSearchAttributes([{ key: EnrolmentStatusKey, value: 'completed' }]);
            persistedStatus = 'completed';
            continue; // ended: no continue-as-new into a run that would only end
          } else {
            plan = following.plan;
            postponed = null;
            noteSender(plan);
          }
          break;
        }
        lastSentAt = new Date().toISOString();
        planStale = true;
        break;
      }
      case 'postponed':
        // Daily cap or provider quota: the step waits, it is never dropped.
        plan = {
          ...plan,
          next: { ...next, dueAt: outcome.until, summary: `${next.summary} (postponed: ${markdownText(outcome.reason)})` },
        };
        postponed = { stepId: next.stepId, until: outcome.until, reason: outcome.reason };
        break;
      case 'not_sendable':
        if (outcome.status === 'paused') status = 'paused';
        else if (outcome.status) end(outcome.status, outcome.reason);
        else planStale = true; // the step changed or vanished: plan again
        break;
      case 'failed':
        end('failed', outcome.reason);
        break;
    }

    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.historyBound ?? HISTORY_BOUND)) {
      // An update that arrived during the send waits for its status to be recorded, which only
      // the top of the loop does: waiting for it here would wait for ever. Go round first. Runs
      // from before this rule waited here (until a signal undid the change), and on replay they
      // still must. patched() is asked only in this case, so ordinary histories carry no marker.
      if (!settled() && !allHandlersFinished() && patched('continue-as-new-once-settled')) {
        continueAsNewOnceSettled = true;
        continue;
      }
      // Signals that arrive meanwhile are not lost: the server refuses to close a run that has
      // unhandled signals, and this code runs again with them applied.
      await condition(allHandlersFinished);
      await continueAsNewWithState();
    }
  }

  // The Temporal UI reads details as Markdown, and a reason may carry a sender's address or a
  // provider's words. Details and summaries are no commands: escaping them changes no replay.
  setCurrentDetails(`Ended: ${status}${endedReason ? ` (${markdownText(endedReason)})` : ''}. ${sentCount} email(s) sent.`);
  await condition(allHandlersFinished);
  return state();
}
