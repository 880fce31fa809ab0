import { eq } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { enrolments, type EnrolmentStatus, type WaitingFor } from '../db/schema.js';
import { isLive, REASONS } from '../domain/enrolment-status.js';
import { senderHold, sequenceHold } from '../domain/enrolment-rules.js';
import { inHoldout, variantForEnrolment } from '../domain/experiment.js';
import { markdownText } from '../domain/markdown-text.js';
import { formatDue, nextStep, stepSchedule } from '../domain/schedule.js';
import { waitSummary } from '../domain/waiting-for.js';
import { storeVariantAssignment } from '../db/variant-assignments.js';
import { SUPPRESSION_OUTCOME, suppressionOf } from '../domain/suppression.js';
import { daysOffOf, loadEnrolmentContext, type EnrolmentContext } from './enrolment-context.js';

export interface NextStepPlan {
  /** The database says the enrolment is elsewhere (suppressed, sequence paused or archived). */
  adoptStatus?: EnrolmentStatus;
  reason?: string;
  /** Who the enrolment sends as now (its SenderId search attribute); absent without a sender. */
  senderId?: string;
  /**
   * The step's email goes from the workflow's own worker, as a local activity: no send rate is
   * set, so nothing needs the rate-limited sends queue and its round trips through the server.
   * Only a local activity answers it (planNextStep, or a send that itself ran locally), so the
   * worker that reads it is the one that wrote it: plans recorded before it, or answered from the
   * sends queue, never take the local path, and their histories replay as they were written.
   */
  sendsLocally?: true;
  next: {
    stepId: string;
    number: number;
    of: number;
    subject: string;
    dueAt: string;
    summary: string;
    /** The variant of the step this enrolment gets, when the step is an experiment. */
    variant?: { id: string; label: string };
  } | null;
}

/** Which step comes next and when it is due, from the sequence as it is now. */
export function createPlanNextStep({ db, config }: { db: Db; config?: Pick<Config, 'SEND_RATE_PER_SECOND'> }) {
  const sendsLocally = config && !config.SEND_RATE_PER_SECOND ? ({ sendsLocally: true } as const) : {};
  return async function planNextStep({
    enrolmentId,
    previousAt,
    notBefore,
  }: {
    enrolmentId: string;
    /** When the previous email went (or the enrolment began), by the workflow's clock. */
    previousAt: string;
    /** No step before then: the enrolment was waiting for the lead's return (out of office). */
    notBefore?: string;
  }): Promise<NextStepPlan> {
    const ctx = await loadEnrolmentContext(db, enrolmentId);
    if (!ctx) return { adoptStatus: 'failed', reason: REASONS.enrolmentGone, next: null };
    const { enrolment, lead, sequence, sender } = ctx;
    const senderId = sender ? { senderId: sender.id } : {};
    if (!isLive(enrolment.status)) {
      return { adoptStatus: enrolment.status, reason: enrolment.endedReason ?? undefined, next: null };
    }
    const suppression = suppressionOf(lead);
    if (suppression)
      return { adoptStatus: SUPPRESSION_OUTCOME[suppression].status, reason: SUPPRESSION_OUTCOME[suppression].reason, next: null };
    if (sequence.status === 'archived') return { adoptStatus: 'stopped', reason: REASONS.sequenceArchived, next: null };

    // Every step sent: the enrolment completes even if its sequence was paused meanwhile (a
    // paused plan with no step to resume to would leave nothing to wait for). The workflow
    // records "completed", which clears the next step in the same write.
    if (!ctx.next) return { ...senderId, next: null };
    // In the holdout or not is decided at the first plan, and stays (a later change of the
    // sequence's share moves no one). Enrolments past step 1 before holdouts existed are in none.
    const holdout = enrolment.holdout ?? (ctx.sentSteps.length === 0 && inHoldout(enrolment.id, sequence.holdoutPercent));
    if (holdout && ctx.sentSteps.length > 0) return { adoptStatus: 'completed', reason: REASONS.heldOut, next: null };
    // A sequence paused, or a sender retired: the enrolment waits, paused, with the step planned.
    const hold = (sequenceHold(sequence.status, sequence.protection) ?? senderHold(!!sender?.retiredAt, sender?.protection))?.reason;
    const adoptStatus = hold && enrolment.status === 'active' ? ('paused' as const) : undefined;
    const schedule = stepSchedule({
      previousAt: new Date(previousAt),
      delay: { amount: ctx.next.delayAmount, unit: ctx.next.delayUnit },
      window: sequence.sendWindow,
      zone: ctx.zone,
      daysOff: daysOffOf(ctx),
      ...(notBefore ? { notBefore: new Date(notBefore) } : {}),
    });
    // An email in a cap's queue keeps its place when the plan is made again (an edit, a new
    // window): released with the others in the order they waited, not all at once. A change of
    // that cap clears the queue first (api/services), so a raised cap releases them.
    const queued = enrolment.waitingFor;
    const keep =
      queued && 'queue' in queued && enrolment.nextStepId === ctx.next.id && Date.parse(queued.until) > schedule.at.getTime()
        ? queued
        : null;
    const dueAt = keep ? new Date(keep.until) : schedule.at;
    const wait = keep ?? schedule.wait;
    await db
      .update(enrolments)
      .set({ nextStepId: ctx.next.id, nextDueAt: dueAt, waitingFor: wait, ...(enrolment.holdout === null ? { holdout } : {}) })
      .where(eq(enrolments.id, enrolmentId))
      .prepare('plan_next_step') // named: planned once per connection
      .execute();
    // The variant is assigned when the step is first planned, so the Temporal UI and the API say
    // which will go; the send reads the same assignment.
    const { variant, store } = variantForEnrolment(enrolmentId, ctx.next);
    if (variant && store) {
      await storeVariantAssignment(db, { accountId: enrolment.accountId, enrolmentId, stepId: ctx.next.id, variantId: variant.id }, store);
    }
    return {
      adoptStatus,
      reason: adoptStatus ? hold : undefined,
      ...senderId,
      ...sendsLocally,
      next: plannedStep(ctx, ctx.next, dueAt, wait, variant),
    };
  };
}

/** What follows a sent email, when the send can decide it with the context it read (see below). */
export type PlanAfterSend = { completed: true } | { plan: NextStepPlan & { next: NonNullable<NextStepPlan['next']> }; wait: WaitingFor };

/**
 * The plan that follows the email of `stepId`, sent at `previousAt`, from the context the send
 * read: what planNextStep would find right after it, without reading the enrolment again. Null
 * where that plan writes more than the enrolment's row or adopts a status (a hold, a holdout, an
 * experiment's variant to assign): the workflow then plans as before.
 */
export function planAfterSend(
  ctx: EnrolmentContext,
  stepId: string,
  previousAt: Date,
  options: { sendsLocally?: boolean } = {},
): PlanAfterSend | null {
  const { enrolment, lead, sequence, sender } = ctx;
  if (enrolment.holdout || suppressionOf(lead)) return null;
  if (sequenceHold(sequence.status, sequence.protection) ?? senderHold(!!sender?.retiredAt, sender?.protection)) return null;
  const position = ctx.steps.find((s) => s.id === stepId)?.position;
  if (position === undefined) return null;
  const sent = ctx.sentSteps.some((s) => s.stepId === stepId) ? ctx.sentSteps : [...ctx.sentSteps, { stepId, position }];
  const following = nextStep(ctx.steps, sent);
  if (!following) return { completed: true };
  if (following.variants.length) return null;
  const { at, wait } = stepSchedule({
    previousAt,
    delay: { amount: following.delayAmount, unit: following.delayUnit },
    window: sequence.sendWindow,
    zone: ctx.zone,
    daysOff: daysOffOf(ctx),
  });
  return {
    plan: {
      ...(sender ? { senderId: sender.id } : {}),
      ...(options.sendsLocally ? { sendsLocally: true as const } : {}),
      next: plannedStep(ctx, following, at, wait, null),
    },
    wait,
  };
}

/** A planned step as the workflow shows it (its state and the Temporal UI's summary). */
export function plannedStep(
  ctx: Pick<EnrolmentContext, 'steps' | 'zone'>,
  step: { id: string; subject: string },
  dueAt: Date,
  wait: WaitingFor,
  variant: { id: string; label: string; subject: string } | null,
): NonNullable<NextStepPlan['next']> {
  const number = ctx.steps.findIndex((s) => s.id === step.id) + 1;
  const subject = variant?.subject ?? step.subject;
  const which = variant ? ` (variant ${variant.label})` : '';
  return {
    stepId: step.id,
    number,
    of: ctx.steps.length,
    subject,
    dueAt: dueAt.toISOString(),
    // The Temporal UI reads it as Markdown: the subject is the user's, shown as written.
    summary: `Step ${number} of ${ctx.steps.length}${which} '${markdownText(subject, 120)}' due ${formatDue(dueAt, ctx.zone)}${waitSummary(wait)}`,
    ...(variant ? { variant: { id: variant.id, label: variant.label } } : {}),
  };
}
