import type { Client } from '@temporalio/client';
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { Config } from '../../config.js';
import type { Account } from '../../db/accounts.js';
import { rowsOf, type Db } from '../../db/client.js';
import { notifications, sequences, steps, stepVariants } from '../../db/schema.js';
import { moveUnsentAssignments } from '../../db/variant-assignments.js';
import { assignable, guardrailVerdicts, type GuardrailVerdict } from '../../domain/experiment.js';
import {
  compareVariants,
  credibleInterval,
  MAX_VARIANTS,
  MIN_VARIANTS,
  posteriorOf,
  probabilityBest,
  type ExperimentStats,
} from '../../domain/experiment-stats.js';
import { createLogger, type Logger } from '../../logger.js';
import { notifyPortal } from '../../temporal/portal-events.js';
import { notFound } from '../errors.js';
import { ATTRIBUTION_RULE, type experimentSchema, type holdoutSchema } from '../schemas/experiments.js';
import { findSequence } from './sequences.js';
import { mirroredVariant } from './step-variants.js';
import { broadcastToSequence } from './workflow-starter.js';

// Experiments (issue 20), judged: what each variant of a step did, compared on reply rate, and the
// guardrails that stop a variant leads clearly dislike. Every figure is counted in SQL, in one
// aggregate query per answer, by the attribution rule below, which is written here and nowhere
// else: the figures, the guardrails and the variant on portal webhooks all use it.

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
  logger?: Logger;
}

/** An email of a sequence that reached the provider: what an experiment counts as sent. */
const SENT_EMAIL = sql`m.enrolment_id is not null and m.sent_at is not null and m.status in ('sent', 'delivered', 'bounced')`;

/**
 * A real reply: a person, the lead or someone at the lead's company, wrote back (class `reply`;
 * not an auto-reply, an out-of-office, a delivery notice or a stranger). The class is the current
 * one, so a user's correction counts.
 */
const REAL_REPLY = sql`i.classification = 'reply' and i.sender in ('lead', 'lead_domain') and i.enrolment_id is not null and i.lead_id is not null`;

/**
 * An unsubscription that stands (a user's correction lifts one an email was misread to make).
 * One a spam complaint made is the complaint's, counted as complained on its own email.
 */
const STANDING_UNSUBSCRIPTION = sql`u.lifted_at is null and u.source <> 'spam complaint'`;

/**
 * THE ATTRIBUTION RULE. An outcome of an enrolment (a reply, an unsubscribe) belongs to the latest
 * email the enrolment had received at or before the outcome's time: the email the lead was
 * answering or leaving, as far as the data can tell (a lead replying in step 1's thread after
 * step 2 arrived had step 2 in front of them). A reply is its enrolment's; an unsubscribe is the
 * lead's, account-wide, so it belongs to the latest sequence email the lead had received in any
 * enrolment. Bounces, complaints, clicks and opens are not attributed: each is its own email's.
 *
 * `outcomes` selects (kind text, id uuid, enrolment_id uuid | null, lead_id uuid, at timestamptz,
 * positive boolean); the answer has one row per outcome that had an email before it: the outcome
 * and its email's message_id, step_id and variant_id. Joined on the lead (hashable, and indexed
 * through enrolments_lead_idx and messages_enrolment_idx for a single outcome), the same SQL
 * serves an aggregate over a step and the lookup for one webhook.
 */
function attributed(outcomes: SQL): SQL {
  return sql`
    select distinct on (o.kind, o.id) o.kind, o.id, o.positive, m.id as message_id, m.step_id, m.variant_id
    from (${outcomes}) o
    join enrolments e on e.lead_id = o.lead_id and (o.enrolment_id is null or e.id = o.enrolment_id)
    join messages m on m.enrolment_id = e.id and ${SENT_EMAIL} and m.sent_at <= o.at
    order by o.kind, o.id, m.sent_at desc, m.id desc`;
}

/** The variant an email went as, as portal webhooks carry it. */
export interface EmailVariant {
  stepId: string;
  variantId: string;
  label: string;
}

/**
 * The variant of the email an outcome is attributed to (the rule above): an inbound email of an
 * enrolment (`enrolmentId`), or an unsubscription of a lead (no enrolment). Null when that email
 * went without a variant, or there was none.
 */
export async function variantOfOutcome(
  db: Db,
  outcome: { enrolmentId: string | null; leadId: string; at: Date },
): Promise<EmailVariant | null> {
  const one = sql`select 'outcome'::text as kind, null::uuid as id, ${outcome.enrolmentId}::uuid as enrolment_id,
    ${outcome.leadId}::uuid as lead_id, ${outcome.at.toISOString()}::timestamptz as at, false as positive`;
  const [row] = rowsOf<{ step_id: string; variant_id: string; label: string }>(
    await db.execute(sql`
      select a.step_id, a.variant_id, v.label
      from (${attributed(one)}) a
      join step_variants v on v.id = a.variant_id`),
  );
  return row ? { stepId: row.step_id, variantId: row.variant_id, label: row.label } : null;
}

/** The variant an inbound email is attributed to (an email outside any enrolment has none). */
export async function variantOfInbound(
  db: Db,
  inbound: { enrolmentId: string | null; leadId: string | null; receivedAt: Date },
): Promise<EmailVariant | null> {
  if (!inbound.enrolmentId || !inbound.leadId) return null;
  return variantOfOutcome(db, { enrolmentId: inbound.enrolmentId, leadId: inbound.leadId, at: inbound.receivedAt });
}

/** The variant an email itself went as (a bounce's, a complaint's): null without one. */
export async function variantOfEmail(db: Db, messageId: string): Promise<EmailVariant | null> {
  const [row] = rowsOf<{ step_id: string; variant_id: string; label: string }>(
    await db.execute(sql`
      select m.step_id, m.variant_id, v.label
      from messages m join step_variants v on v.id = m.variant_id
      where m.id = ${messageId}::uuid`),
  );
  return row ? { stepId: row.step_id, variantId: row.variant_id, label: row.label } : null;
}

type VariantRow = typeof stepVariants.$inferSelect;

export interface VariantFigures {
  variant: VariantRow;
  assigned: number;
  sent: number;
  delivered: number;
  bounced: number;
  replied: number;
  positiveReplies: number;
  unsubscribed: number;
  complained: number;
  clicked: number;
  opened: number;
}

type Counts = Omit<VariantFigures, 'variant'>;
const NO_COUNTS: Counts = {
  assigned: 0,
  sent: 0,
  delivered: 0,
  bounced: 0,
  replied: 0,
  positiveReplies: 0,
  unsubscribed: 0,
  complained: 0,
  clicked: 0,
  opened: 0,
};

/**
 * What each variant of a step did, every variant (removed, stopped and lost ones too: their
 * emails went), in label order. One aggregate query for the counts: the step's sent emails, the
 * replies of their enrolments and the unsubscriptions of their leads attributed by the rule, and
 * the complaints on their own emails (enrolment_events `email_complained`, which name the email).
 * A step's email is one per enrolment, so counting emails with an outcome counts enrolments.
 */
export async function variantFigures(db: Db, step: { id: string; accountId: string }): Promise<VariantFigures[]> {
  const variants = await db
    .select()
    .from(stepVariants)
    .where(and(eq(stepVariants.stepId, step.id), eq(stepVariants.accountId, step.accountId)))
    .orderBy(asc(stepVariants.label));
  if (variants.length === 0) return [];
  const outcomes = sql`
    select 'reply'::text as kind, i.id, i.enrolment_id, i.lead_id, i.received_at as at, coalesce(i.sentiment = 'positive', false) as positive
    from inbound_messages i
    where ${REAL_REPLY} and i.enrolment_id in (select enrolment_id from sent)
    union all
    select 'unsubscribe', u.id, null, u.lead_id, u.created_at, false
    from lead_unsubscriptions u
    where ${STANDING_UNSUBSCRIPTION} and u.lead_id in (select lead_id from sent)`;
  const rows = rowsOf<{ variant_id: string } & Record<keyof Counts, number>>(
    await db.execute(sql`
      with sent as (
        select m.id, m.variant_id, m.enrolment_id, m.lead_id, m.delivered_at, m.bounced_at, m.first_clicked_at, m.first_opened_at
        from messages m
        -- By the step's variants, not by step_id: messages_variant_idx serves it (no step_id index).
        where m.variant_id in (select id from step_variants where step_id = ${step.id}::uuid)
          and m.step_id = ${step.id}::uuid and m.account_id = ${step.accountId}::uuid and ${SENT_EMAIL}
      ),
      outcome_flags as (
        select a.message_id,
          bool_or(a.kind = 'reply') as replied,
          bool_or(a.kind = 'reply' and a.positive) as positive,
          bool_or(a.kind = 'unsubscribe') as unsubscribed
        from (${attributed(outcomes)}) a
        where a.step_id = ${step.id}::uuid
        group by a.message_id
      ),
      complaints as (
        select distinct ev.detail->>'messageId' as message_id
        from enrolment_events ev
        where ev.type = 'email_complained' and ev.enrolment_id in (select enrolment_id from sent)
      ),
      assigned as (
        -- Likewise through variant_assignments_variant_idx (its primary key leads with the enrolment).
        select va.variant_id, count(*)::int as n from variant_assignments va
        where va.variant_id in (select id from step_variants where step_id = ${step.id}::uuid) group by va.variant_id
      )
      select v.id as variant_id,
        coalesce(max(asg.n), 0)::int as "assigned",
        count(s.id)::int as "sent",
        count(s.delivered_at)::int as "delivered",
        count(s.bounced_at)::int as "bounced",
        count(*) filter (where f.replied)::int as "replied",
        count(*) filter (where f.positive)::int as "positiveReplies",
        count(*) filter (where f.unsubscribed)::int as "unsubscribed",
        count(c.message_id)::int as "complained",
        count(s.first_clicked_at)::int as "clicked",
        count(s.first_opened_at)::int as "opened"
      from step_variants v
      left join assigned asg on asg.variant_id = v.id
      left join sent s on s.variant_id = v.id
      left join outcome_flags f on f.message_id = s.id
      left join complaints c on c.message_id = s.id::text
      where v.step_id = ${step.id}::uuid
      group by v.id`),
  );
  const byVariant = new Map(rows.map(({ variant_id, ...counts }) => [variant_id, counts]));
  return variants.map((variant) => ({ variant, ...NO_COUNTS, ...byVariant.get(variant.id) }));
}

// ── The comparison, in figures and in words ──

const percent = (p: number) => (p > 0.99 ? 'over 99 %' : p < 0.01 ? 'under 1 %' : `${Math.round(p * 100)} %`);
/** "about 1,200": a projection's figure has no more precision than two digits. */
function about(n: number): string {
  const digits = Math.max(0, Math.floor(Math.log10(Math.max(n, 1))) - 1);
  const rounded = Math.round(n / 10 ** digits) * 10 ** digits;
  return `about ${rounded.toLocaleString('en-US')}`;
}

type ExperimentAnswer = z.input<typeof experimentSchema>;

/** The comparison on reply rate of the variants with emails sent, and where it stands, in words. */
export function judge(figures: readonly VariantFigures[]): Pick<ExperimentAnswer, 'comparison' | 'decision' | 'summary'> {
  const compared = figures.filter((f) => f.sent > 0);
  if (compared.length < MIN_VARIANTS || compared.length > MAX_VARIANTS) {
    return {
      comparison: null,
      decision: 'not_enough_variants',
      summary: `No comparison yet: it needs at least ${MIN_VARIANTS} variants with emails sent (${compared.length} so far).`,
    };
  }
  const stats: ExperimentStats = compareVariants(compared.map((f) => ({ sent: f.sent, replies: f.replied })));
  const leader = compared[stats.leader]!;
  const p = stats.variants[stats.leader]!.probabilityBest;
  const comparison = {
    metric: 'reply_rate' as const,
    variants: compared.map((f, i) => ({
      variantId: f.variant.id,
      label: f.variant.label,
      sent: f.sent,
      replied: f.replied,
      meanRate: stats.variants[i]!.meanRate,
      credibleInterval: stats.variants[i]!.credibleInterval,
      probabilityBest: stats.variants[i]!.probabilityBest,
    })),
    leader: { variantId: leader.variant.id, label: leader.variant.label, probabilityBest: p },
    decided: stats.decided,
    additionalSendsPerVariant: stats.additionalSendsPerVariant,
  };
  const leads = `variant ${leader.variant.label} leads with ${percent(p)} probability of the best reply rate`;
  if (stats.decided) return { comparison, decision: 'decided', summary: `A decision: ${leads}.` };
  if (stats.additionalSendsPerVariant === null) {
    return {
      comparison,
      decision: 'no_decision_in_sight',
      summary: `No decision in sight: the reply rates are too close to tell apart with any number of sends an experiment could get (${leads}).`,
    };
  }
  return {
    comparison,
    decision: 'more_sends_needed',
    summary: `No decision yet: ${leads}; ${about(stats.additionalSendsPerVariant)} more sends per variant would decide it if every variant went on replying as it has so far.`,
  };
}

/** The step of one of the account's sequences (a deleted one too: its emails went), or 404. */
async function findStep(db: Db, account: Account, sequenceId: string, stepId: string) {
  await findSequence(db, account, sequenceId);
  const [step] = await db
    .select()
    .from(steps)
    .where(and(eq(steps.id, stepId), eq(steps.sequenceId, sequenceId), eq(steps.accountId, account.id)));
  if (!step) throw notFound('Step');
  return step;
}

/** GET /v1/sequences/:id/steps/:stepId/experiment. */
export async function stepExperiment(
  { db }: Pick<Deps, 'db'>,
  account: Account,
  sequenceId: string,
  stepId: string,
): Promise<ExperimentAnswer> {
  const step = await findStep(db, account, sequenceId, stepId);
  const figures = await variantFigures(db, step);
  return {
    sequenceId,
    stepId,
    attribution: ATTRIBUTION_RULE,
    variants: figures.map(({ variant, opened, ...counts }) => ({
      id: variant.id,
      label: variant.label,
      status: variant.status,
      weight: variant.weight,
      endedReason: variant.endedReason,
      endedAt: variant.endedAt?.toISOString() ?? null,
      ...counts,
      opened: { count: opened, reliable: false as const },
    })),
    ...judge(figures),
  };
}

// ── The holdout ──

type HoldoutAnswer = z.input<typeof holdoutSchema>;

function group(row: { enrolments: number; live: number; replied: number } | undefined) {
  const { enrolments = 0, live = 0, replied = 0 } = row ?? {};
  if (enrolments === 0) return { enrolments, live, replied, meanRate: null, credibleInterval: null };
  const posterior = posteriorOf({ sent: enrolments, replies: replied });
  return {
    enrolments,
    live,
    replied,
    meanRate: posterior.alpha / (posterior.alpha + posterior.beta),
    credibleInterval: credibleInterval(posterior),
  };
}

/**
 * GET /v1/sequences/:id/holdout: enrolments held out (step 1 only) against the rest, on whether
 * they replied at all. Only enrolments whose holdout was decided (at their first plan) and that
 * were sent an email: one still waiting for step 1 has had nothing to reply to. One aggregate query.
 */
export async function holdoutComparison({ db }: Pick<Deps, 'db'>, account: Account, sequenceId: string): Promise<HoldoutAnswer> {
  const sequence = await findSequence(db, account, sequenceId);
  const rows = rowsOf<{ holdout: boolean; enrolments: number; live: number; replied: number }>(
    await db.execute(sql`
      with reached as (
        select e.id, e.holdout, e.status
        from enrolments e
        where e.sequence_id = ${sequenceId}::uuid and e.account_id = ${account.id}::uuid and e.holdout is not null
          and exists (select 1 from messages m where m.enrolment_id = e.id and ${SENT_EMAIL})
      ),
      replied as (
        select distinct i.enrolment_id from inbound_messages i
        where ${REAL_REPLY} and i.enrolment_id in (select id from reached)
      )
      select r.holdout,
        count(*)::int as enrolments,
        count(*) filter (where r.status in ('active', 'paused'))::int as live,
        count(rp.enrolment_id)::int as replied
      from reached r left join replied rp on rp.enrolment_id = r.id
      group by r.holdout`),
  );
  const holdout = group(rows.find((r) => r.holdout === true));
  const followUps = group(rows.find((r) => r.holdout === false));
  const both = holdout.enrolments > 0 && followUps.enrolments > 0;
  const probability = both
    ? probabilityBest([
        { sent: followUps.enrolments, replies: followUps.replied },
        { sent: holdout.enrolments, replies: holdout.replied },
      ])[0]!
    : null;
  const rate = (g: { enrolments: number; replied: number }) =>
    `${g.replied} of ${g.enrolments} enrolments replied (${((g.replied / g.enrolments) * 100).toFixed(1)} %)`;
  const live = holdout.live + followUps.live;
  const summary =
    probability === null
      ? `No comparison yet: it needs enrolments both in the holdout and not (${holdout.enrolments} held out, ${followUps.enrolments} with follow-ups).`
      : `The follow-ups beat the holdout with ${percent(probability)} probability: with follow-ups ${rate(followUps)}, without ${rate(holdout)}.` +
        (live > 0 ? ` ${live} enrolments are still under way, and their replies may change this.` : '');
  return { sequenceId, holdoutPercent: sequence.holdoutPercent, holdout, followUps, probabilityFollowUpsBetter: probability, summary };
}

// ── Guardrails ──

let fallbackLogger: Logger | undefined;
const loggerOf = (deps: Deps) => deps.logger ?? (fallbackLogger ??= createLogger({ level: deps.config.LOG_LEVEL }));

export interface StoppedVariant {
  variantId: string;
  label: string;
  reason: string;
  moved: number;
}

/**
 * Stops each variant of the step that a guardrail condemns (domain/experiment.ts,
 * guardrailVerdicts, on the figures above): in one transaction per variant, under the step's
 * row lock (the variants API takes it too), the variant is re-read and stopped only if it is
 * still active and another assignable variant is left; its unsent assignments move to the
 * variants left; the user gets a notification. The portal is told after the commit
 * (`experiment.variant_stopped`, once per stop). Answers the variants it stopped.
 */
export async function enforceGuardrails(deps: Deps, { stepId }: { stepId: string }): Promise<StoppedVariant[]> {
  const [step] = await deps.db
    .select({
      id: steps.id,
      accountId: steps.accountId,
      sequenceId: steps.sequenceId,
      position: steps.position,
      sequenceName: sequences.name,
    })
    .from(steps)
    .innerJoin(sequences, eq(sequences.id, steps.sequenceId))
    .where(eq(steps.id, stepId));
  if (!step) return [];
  const figures = await variantFigures(deps.db, step);
  const verdicts = guardrailVerdicts(
    figures.map((f) => ({
      id: f.variant.id,
      label: f.variant.label,
      status: f.variant.status,
      sent: f.sent,
      unsubscribed: f.unsubscribed,
      complained: f.complained,
    })),
  );
  const stopped: StoppedVariant[] = [];
  for (const verdict of verdicts) {
    const done = await stopVariant(deps.db, step, verdict);
    if (!done) continue;
    stopped.push(done.stopped);
    // Waiting enrolments plan again, so the Temporal UI and the API name the variant they will get now.
    await broadcastToSequence(deps, { sequenceId: step.sequenceId, signal: 'reschedule' });
    await notifyPortal(
      deps,
      step.accountId,
      'experiment.variant_stopped',
      {
        sequenceId: step.sequenceId,
        stepId: step.id,
        variant: { stepId: step.id, variantId: done.stopped.variantId, label: done.stopped.label },
        metric: verdict.metric,
        reason: verdict.reason,
        movedUnsent: done.stopped.moved,
        endedAt: done.endedAt.toISOString(),
      },
      `variant-stopped-${done.stopped.variantId}-${done.endedAt.getTime()}`,
    );
  }
  return stopped;
}

async function stopVariant(
  db: Db,
  step: { id: string; accountId: string; position: number; sequenceName: string },
  verdict: GuardrailVerdict,
): Promise<{ stopped: StoppedVariant; endedAt: Date } | null> {
  return db.transaction(async (tx) => {
    await tx.select({ id: steps.id }).from(steps).where(eq(steps.id, step.id)).for('update');
    const variants = await tx.select().from(stepVariants).where(eq(stepVariants.stepId, step.id));
    const target = variants.find((v) => v.id === verdict.variantId);
    // Changed since the figures were read: removed, beaten, or stopped by a check racing this one.
    if (target?.status !== 'active') return null;
    const after = variants.map((v) => (v.id === target.id ? { ...v, status: 'stopped' as const } : v));
    if (assignable(after).length === 0) return null;
    const endedAt = new Date();
    await tx
      .update(stepVariants)
      .set({ status: 'stopped', endedReason: verdict.reason, endedAt, updatedAt: endedAt })
      .where(eq(stepVariants.id, target.id));
    // The step shows the content of the variant it mirrors (the rule is step-variants.ts's).
    const mirror = mirroredVariant(after)!;
    await tx.update(steps).set({ subject: mirror.subject, body: mirror.body, updatedAt: endedAt }).where(eq(steps.id, step.id));
    const moved = await moveUnsentAssignments(tx, { id: step.id, variants: after }, [target.id]);
    const others = assignable(after)
      .map((v) => v.label)
      .join(', ');
    await tx.insert(notifications).values({
      accountId: step.accountId,
      type: 'experiment_variant_stopped',
      title: `Variant ${target.label} of step ${step.position} in "${step.sequenceName}" was stopped`.slice(0, 500),
      body:
        `Variant ${target.label} was ${verdict.reason}.\n\n` +
        `${moved} ${moved === 1 ? 'enrolment' : 'enrolments'} waiting for it will get variant ${others} instead; ` +
        `what it sent stays in the experiment's figures.`,
    });
    return { stopped: { variantId: target.id, label: target.label, reason: verdict.reason, moved }, endedAt };
  });
}

/**
 * The guardrails of the step whose variant an outcome (an unsubscribe, a complaint) was
 * attributed to, after that outcome committed. A failure is logged, not thrown: the outcome is
 * recorded whatever happens here, and the next one checks the step again.
 */
export async function checkGuardrailsAfter(deps: Deps, variant: EmailVariant | null): Promise<void> {
  if (!variant) return;
  try {
    await enforceGuardrails(deps, { stepId: variant.stepId });
  } catch (error) {
    loggerOf(deps).error(
      { err: error, stepId: variant.stepId },
      'experiment guardrail check failed: the next unsubscribe or complaint checks again',
    );
  }
}
