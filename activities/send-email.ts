import { and, eq, getTableColumns, isNull, sql, type Query, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { rowFromJson } from '../db/json-rows.js';
import type { Config } from '../config.js';
import { buildOnce, executeNamed, type Db, type Transaction } from '../db/client.js';
import { dailyCapReached, newLeadsCapReached, queuedRelease, recipientCapReached, senderCapReached } from '../db/daily-sends.js';
import { recipientKeyOf } from '../domain/company.js';
import { enrolments, messages, stepVariants, type EnrolmentStatus, type WaitingFor } from '../db/schema.js';
import { storableLine } from '../domain/inbound.js';
import { TemplateError } from '../domain/merge-fields.js';
import { sendBlocker } from '../domain/enrolment-rules.js';
import { REASONS } from '../domain/enrolment-status.js';
import { providerTags } from '../domain/sender.js';
import type { Logger } from '../logger.js';
import { deliverMessage, type Message } from './deliver-message.js';
import {
  contextUnchangedSql,
  daysOffOf,
  loadEnrolmentContext,
  type EnrolmentContext,
  type PreviousEmail,
  type VariantContent,
} from './enrolment-context.js';
import { planAfterSend, type NextStepPlan, type PlanAfterSend } from './plan-next-step.js';
import { notifyEnrolmentEnded } from '../temporal/portal-events.js';
import { asyncLocalStorage as activityContext } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { nextWindowOpening } from '../domain/schedule.js';

import { renderMessage } from '../domain/render-message.js';
import { emailStoreFallbacks } from '../metrics.js';
import type { Quote } from '../domain/compose-email.js';
import { goesInThread, normaliseMessageId, quoteOf, threadReply, type ThreadReply } from '../domain/thread.js';
import { variantForEnrolment } from '../domain/experiment.js';
import { storeVariantAssignment } from '../db/variant-assignments.js';
import type { Mailer } from './mailer.js';

/**
 * What follows a sent email, decided and written by the send itself, so the workflow neither
 * plans nor records a completion after it (two local activities and their statements saved).
 * Absent when the send could not decide it (planAfterSend) or found it written already: the
 * workflow then plans as it always did.
 */
export type FollowingSend = {
  /** The instant the next step's delay counts from: when the email went (the workflow's clock, or the machine's when later). */
  previousAt: string;
} & ({ plan: NextStepPlan } | { completed: { reason: string } });

export type SendOutcome =
  | { outcome: 'sent'; messageId: string; sentAt: string; following?: FollowingSend }
  | { outcome: 'postponed'; until: string; reason: string }
  | { outcome: 'not_sendable'; status: EnrolmentStatus | null; reason: string }
  | { outcome: 'failed'; reason: string };

/** enrolment + step: the same key for every retry of this send, at the provider and in our table. */
export const stepIdempotencyKey = (enrolmentId: string, stepId: string) => `enrolment-${enrolmentId}-step-${stepId}`;

export interface SendDeps {
  db: Db;
  mailer: Mailer;
  config: Config;
  logger: Logger;
  temporal: Client;
}

/**
 * A step that can no longer be rendered (saved before today's template rules, or over a limit
 * with this lead's values) will not render on a retry either: the send fails for good, with the
 * reason, instead of retrying for hours.
 */
function templateFailure(error: unknown): { outcome: SendOutcome } {
  if (error instanceof TemplateError) return { outcome: { outcome: 'failed', reason: `the step cannot be rendered: ${error.message}` } };
  throw error;
}

/** A step's variants, share-locked: the API's changes to them wait for this transaction. */
async function lockedVariants(tx: Transaction, stepId: string): Promise<VariantContent[]> {
  return tx
    .select({
      id: stepVariants.id,
      label: stepVariants.label,
      subject: stepVariants.subject,
      body: stepVariants.body,
      weight: stepVariants.weight,
      status: stepVariants.status,
    })
    .from(stepVariants)
    .where(eq(stepVariants.stepId, stepId))
    .for('share');
}

/**
 * What the context alone says of a send before anything is stored: an outcome that stores nothing
 * (the enrolment may not be emailed now, or its plan is out of date), or null to go on.
 */
function outcomeFromContext(ctx: EnrolmentContext, stepId: string): SendOutcome | null {
  const { enrolment, lead, sequence, sender } = ctx;
  const blocker = sendBlocker({
    enrolmentStatus: enrolment.status,
    sequenceStatus: sequence.status,
    sequenceProtection: sequence.protection,
    onReply: sequence.onReply,
    lead,
    repliedAt: enrolment.repliedAt,
    resumedAt: enrolment.resumedAt,
    senderRetired: !!sender?.retiredAt,
    senderProtection: sender?.protection,
  });
  if (blocker) return { outcome: 'not_sendable', status: blocker.status, reason: blocker.reason };
  // The step the workflow planned may have been deleted or reordered since: plan again.
  if (ctx.next?.id !== stepId) return { outcome: 'not_sendable', status: null, reason: 'the next step changed' };
  // A holdout gets step 1 alone; planning again ends the enrolment.
  if (enrolment.holdout && ctx.sentSteps.length > 0) return { outcome: 'not_sendable', status: null, reason: REASONS.heldOut };
  return null;
}

/**
 * A follow-up goes as a reply in the thread of the enrolment's previous email (when its step says
 * so): `Re:` the subject that email's thread began with, as the lead received it. When that
 * email's Message-ID is not known yet, the provider must be asked first (`lookUp`).
 */
function threadOf(
  ctx: EnrolmentContext,
  stepId: string,
): { thread: { reply: ThreadReply; quote: Quote | null } | null } | { lookUp: { previous: PreviousEmail } } {
  const position = ctx.steps.findIndex((s) => s.id === stepId) + 1;
  const previous = ctx.previousEmail;
  if (!ctx.next || !goesInThread(ctx.next, position) || !previous) return { thread: null };
  if (!previous.rfcMessageId) return { lookUp: { previous } };
  const prior = {
    messageId: previous.rfcMessageId,
    subject: previous.subject,
    threadSubject: previous.threadSubject,
    references: previous.threadReferences,
    sentAt: previous.sentAt ?? previous.createdAt,
    bodyText: previous.bodyText,
    from: previous.fromEmail,
  };
  return { thread: { reply: threadReply(prior), quote: ctx.next.quotePrevious ? quoteOf(prior, ctx.zone) : null } };
}

/**
 * Whether this email may be stored in one guarded statement (`storeIfUnchanged`): nothing to
 * choose under a lock (an experiment's variant), to count under one (a cap) or to ask first (a
 * thread's Message-ID). Then sending takes no transaction; otherwise it takes the locked one.
 */
function storesInOneStatement(ctx: EnrolmentContext, stepId: string): boolean {
  const { account, sender, sequence } = ctx;
  const firstOfEnrolment = ctx.sentSteps.length === 0;
  return (
    ctx.storedMessageId === null &&
    !!ctx.lead.email &&
    ctx.next?.id === stepId &&
    ctx.next.variants.length === 0 &&
    account.limits.maxEmailsPerDay === null &&
    account.recipientDomainDailyCap === null &&
    (sender?.dailyCap ?? null) === null &&
    (!firstOfEnrolment || sequence.newLeadsPerDay === null)
  );
}

/** The step's email as this lead gets it: the variant's words when it goes as one, in the thread when it goes in one. */
export function renderStepEmail(
  config: Config,
  ctx: EnrolmentContext,
  { variant, thread }: { variant: VariantContent | null | undefined; thread: { reply: ThreadReply; quote: Quote | null } | null },
) {
  return renderMessage(config, {
    subject: variant?.subject ?? ctx.next!.subject,
    body: variant?.body ?? ctx.next!.body,
    replyToken: ctx.enrolment.replyToken,
    lead: ctx.lead,
    account: ctx.account,
    sender: ctx.sender,
    format: ctx.sequence.format,
    thread,
  });
}

type Rendered = Awaited<ReturnType<typeof renderMessage>>;

/** The email's row as it is stored before it goes: `sending`, under its idempotency key. */
export function messageRow(input: {
  ctx: EnrolmentContext;
  stepId: string;
  key: string;
  rendered: Rendered;
  variant: VariantContent | null | undefined;
  at: Date;
  /** The mailer keeps our Message-ID (the local outbox): it is what a thread chains on, known now. */
  storesOwnMessageId: boolean;
}) {
  const { ctx, stepId, key, rendered, variant, at } = input;
  const { enrolment, lead, sequence, account, sender } = ctx;
  return {
    ...rendered,
    accountId: account.id,
    enrolmentId: enrolment.id,
    stepId,
    variantId: variant?.id ?? null,
    senderId: sender?.id ?? null,
    rfcMessageId: input.storesOwnMessageId ? rendered.headers['Message-ID']! : null,
    leadId: lead.id,
    idempotencyKey: key,
    toEmail: lead.email!,
    recipientKey: recipientKeyOf(lead.email!),
    firstOfEnrolment: ctx.sentSteps.length === 0,
    // Stamped with the instant the caps counted by (in a time-skipping test, the workflow's
    // clock, the only one that moves).
    createdAt: at,
    tags: providerTags({
      account_id: account.id,
      sequence_id: sequence.id,
      step_id: stepId,
      enrolment_id: enrolment.id,
      message_id: rendered.id,
      variant_id: variant?.id,
    }),
    status: 'sending' as const,
  };
}

type MessageRow = ReturnType<typeof messageRow>;

/** The guarded insert, by its columns: SQL built once, run as a named statement. */
const guardedInserts = new Map<string, Query>();
function guardedInsert(keys: string[]): Query {
  const id = keys.join(',');
  let query = guardedInserts.get(id);
  if (!query) {
    const columns = getTableColumns(messages) as Record<string, PgColumn>;
    const column = (key: string) => {
      const found = columns[key];
      if (!found) throw new Error(`messages has no column ${key}`);
      return found;
    };
    // Typed casts: the values are a SELECT's, which PostgreSQL would otherwise take as text.
    const values = keys.map((k) => sql`${sql.param(sql.placeholder(`m_${k}`), column(k))}::${sql.raw(column(k).getSQLType())}`);
    query = buildOnce(sql`insert into messages (${sql.join(
      keys.map((k) => sql.identifier(column(k).name)),
      sql`, `,
    )})
      select ${sql.join(values, sql`, `)}
      where ${contextUnchangedSql()}
      on conflict (idempotency_key) do nothing
      returning to_jsonb(messages) as message`);
    guardedInserts.set(id, query);
  }
  return query;
}

/**
 * Stores the email in one statement, only if its enrolment's context, read again under the
 * enrolment's row lock, is what the email was decided and rendered from (`contextUnchangedSql`):
 * the same guarantee as the locked transaction, in one round trip instead of four. Undefined when
 * anything changed (or an overlapping attempt stored it): the locked transaction then decides.
 */
export async function storeIfUnchanged(db: Db, row: MessageRow, ctx: EnrolmentContext): Promise<Message | undefined> {
  // A column left undefined takes its default, as in drizzle's insert on the locked path (a
  // named statement would refuse an undefined parameter).
  const keys = Object.keys(row)
    .filter((k) => (row as Record<string, unknown>)[k] !== undefined)
    .sort();
  const values: Record<string, unknown> = {
    enrolmentId: ctx.enrolment.id,
    messageKey: row.idempotencyKey,
    fingerprint: ctx.fingerprint,
  };
  for (const k of keys) values[`m_${k}`] = (row as Record<string, unknown>)[k];
  const [stored] = await executeNamed<{ message: Record<string, unknown> }>(db, guardedInsert(keys), values);
  if (!stored) emailStoreFallbacks.inc();
  return stored ? rowFromJson(messages, stored.message) : undefined;
}

/**
 * The instant the caps count their day by and the email is stamped with: the workflow's clock, or
 * the machine's when the send runs later (a retry, a queue): whichever is later, so an email that
 * goes after midnight counts on the day it goes.
 */
const stampedAt = (now: string) => new Date(Math.max(Date.parse(now), Date.now()));

export function createSendStep(deps: SendDeps) {
  const { db, config, logger } = deps;
  return async function sendStep({
    enrolmentId,
    stepId,
    now,
  }: {
    enrolmentId: string;
    stepId: string;
    /** The workflow's clock: which day a daily cap counts. */
    now: string;
  }): Promise<SendOutcome> {
    const key = stepIdempotencyKey(enrolmentId, stepId);
    // Run in the workflow's worker (its plan said no send rate was set): if a rate is set now,
    // the email must go through the rate-limited queue, which a new plan says.
    const sentLocally = activityContext.getStore()?.info.isLocal ?? false;
    if (sentLocally && config.SEND_RATE_PER_SECOND) {
      return { outcome: 'not_sendable', status: null, reason: 'a send rate is set: sends go through the sends queue' };
    }

    type Decided = { outcome: SendOutcome } | { message: Message; ctx?: EnrolmentContext } | { lookUp: { previous: PreviousEmail } };
    const storedMessage = async (tx: Transaction) => (await tx.select().from(messages).where(eq(messages.idempotencyKey, key)))[0];
    // Phase 1, under the enrolment's row lock: decide, render and store the email as it will go.
    const decide = (): Promise<Decided> =>
      db
        .transaction(async (tx): Promise<Decided> => {
          const ctx = await loadEnrolmentContext(tx as unknown as Db, enrolmentId, { lock: true, messageKey: key });
          // Already stored by an earlier attempt: finish that attempt with the very same payload.
          // (The context says whether it is; without a context, the table does.)
          const stored = ctx?.storedMessageId === null ? undefined : await storedMessage(tx);
          if (stored) return { message: stored, ...(ctx ? { ctx } : {}) };
          if (!ctx) return { outcome: { outcome: 'not_sendable', status: 'failed', reason: REASONS.enrolmentGone } };
          const early = outcomeFromContext(ctx, stepId);
          if (early || !ctx.next) return { outcome: early! };
          const { lead, sequence, account, sender, next } = ctx;
          // The variant planned for this enrolment, or one chosen now if the experiment changed
          // since (a variant removed, stopped or beaten while this email was unsent).
          // The variants as they are once no change of them is in flight: a removal, a stop or a winner
          // (each under the step's lock, moving unsent assignments) commits before this read or waits
          // for this email to be stored, so an email never goes as a variant that stopped being sent.
          const variants = next.variants.length ? await lockedVariants(tx, stepId) : next.variants;
          const { variant, store } = variantForEnrolment(enrolmentId, { ...next, variants });
          if (variant && store) {
            await storeVariantAssignment(tx, { accountId: account.id, enrolmentId, stepId, variantId: variant.id }, store);
          }
          const threaded = threadOf(ctx, stepId);
          if ('lookUp' in threaded) return threaded;
          const { thread } = threaded;
          // Rendered before the cap is counted: the count's lock is then held only for the insert.
          const rendered = await renderStepEmail(config, ctx, { variant, thread });
          // The account's cap, then the sender's own: over either, the email waits for that cap's
          // next day (never dropped), and the enrolment says what it waits for.
          const at = stampedAt(now);
          const accountCap = await dailyCapReached(tx, account, at);
          const senderCap = accountCap || !sender ? null : await senderCapReached(tx, sender, account.timezone, at);
          const capped = accountCap ?? senderCap;
          // A held email goes at the first opening of its send window (and working day) after the
          // cap's next day starts, not at midnight: the workflow sends at `until` as it is.
          const opensAfter = (at: Date) => nextWindowOpening(at, sequence.sendWindow, ctx.zone, daysOffOf(ctx));
          if (capped) {
            const until = opensAfter(capped.until);
            const waitingFor: WaitingFor = {
              cause: 'daily_cap',
              scope: accountCap ? 'account' : 'sender',
              ...(accountCap ? {} : { senderId: sender!.id }),
              cap: capped.cap,
              until: until.toISOString(),
            };
            await tx.update(enrolments).set({ waitingFor, nextDueAt: until }).where(eq(enrolments.id, enrolmentId));
            const whose = accountCap ? 'the account' : `the sender ${storableLine(sender!.name || sender!.email || sender!.id, 100)}`;
            return {
              outcome: {
                outcome: 'postponed',
                until: until.toISOString(),
                reason: `daily cap of ${capped.cap} emails of ${whose} reached`,
              },
            };
          }
          // The caps that protect the recipients: one domain's inbox servers, and a sequence's
          // new leads a day (first emails only: follow-ups of running enrolments are never held).
          // Over either, the email queues for the next day, in the order it waited.
          const recipientKey = recipientKeyOf(lead.email!);
          const firstOfEnrolment = ctx.sentSteps.length === 0;
          const domainCap = await recipientCapReached(tx, account, recipientKey, at);
          const newLeadsCap = domainCap || !firstOfEnrolment ? null : await newLeadsCapReached(tx, account, sequence, at);
          if (domainCap || newLeadsCap) {
            const queue = domainCap ? `recipient:${recipientKey}` : `new-leads:${sequence.id}`;
            const until = await queuedRelease(tx, account.id, queue, opensAfter((domainCap ?? newLeadsCap)!.until));
            const waitingFor: WaitingFor = domainCap
              ? {
                  cause: 'domain_cap',
                  domain: recipientKey.slice(recipientKey.indexOf(':') + 1),
                  cap: domainCap.cap,
                  until: until.toISOString(),
                  queue,
                }
              : { cause: 'new_leads_cap', cap: newLeadsCap!.cap, until: until.toISOString(), queue };
            await tx.update(enrolments).set({ waitingFor, nextDueAt: until }).where(eq(enrolments.id, enrolmentId));
            return {
              outcome: {
                outcome: 'postponed',
                until: until.toISOString(),
                reason: domainCap
                  ? `daily cap of ${domainCap.cap} emails to ${storableLine(waitingFor.cause === 'domain_cap' ? waitingFor.domain : '', 200)} reached`
                  : `the sequence's ${newLeadsCap!.cap} new leads a day are started`,
              },
            };
          }
          const [message] = await tx
            .insert(messages)
            .values(messageRow({ ctx, stepId, key, rendered, variant, at, storesOwnMessageId: !deps.mailer.messageIdOf }))
            // An overlapping attempt (this one waited for the lock while the other stored the email,
            // and read before it committed) finds the email stored, not a second one.
            .onConflictDoNothing({ target: messages.idempotencyKey })
            .returning()
            .prepare('store_message') // named: planned once per connection
            .execute();
          return { message: message ?? (await storedMessage(tx))!, ctx };
        })
        .catch(templateFailure);
    // Phase 1 without the transaction, for an email with nothing to choose, count or ask under
    // a lock: decided and rendered from the context read unlocked, then stored by one statement
    // that holds only if that context is unchanged. Anything else, or anything changed meanwhile:
    // the locked transaction decides from the start.
    const inOneStatement = async (): Promise<Decided | null> => {
      const ctx = await loadEnrolmentContext(db, enrolmentId, { messageKey: key });
      if (!ctx || outcomeFromContext(ctx, stepId) || !storesInOneStatement(ctx, stepId)) return null;
      const threaded = threadOf(ctx, stepId);
      if ('lookUp' in threaded) return threaded;
      const rendered = await renderStepEmail(config, ctx, { variant: null, thread: threaded.thread }).catch((error: unknown) => {
        if (error instanceof TemplateError) return null; // the locked path says why, for good
        throw error;
      });
      if (!rendered) return null;
      const row = messageRow({
        ctx,
        stepId,
        key,
        rendered,
        variant: null,
        at: stampedAt(now),
        storesOwnMessageId: !deps.mailer.messageIdOf,
      });
      const message = await storeIfUnchanged(db, row, ctx);
      return message ? { message, ctx } : null;
    };
    // A reply in the thread needs the Message-ID the previous email went out with: when the
    // provider has not been asked yet, it is asked outside the transaction, then phase 1 again.
    const phase1 = async () => (await inOneStatement()) ?? (await decide());
    let decided = await phase1();
    if ('lookUp' in decided) {
      const { previous } = decided.lookUp;
      const reported = previous.providerId && deps.mailer.messageIdOf ? await deps.mailer.messageIdOf(previous.providerId) : null;
      // Not reported (no provider, or it does not say): ours, which it was sent with.
      const rfcMessageId = reported ?? normaliseMessageId(previous.headers['Message-ID']) ?? `<${previous.id}@${config.INBOUND_DOMAIN}>`;
      await db
        .update(messages)
        .set({ rfcMessageId })
        .where(and(eq(messages.id, previous.id), isNull(messages.rfcMessageId)));
      decided = await phase1();
      if ('lookUp' in decided) throw new Error(`the previous email ${previous.id} has no Message-ID to reply to`);
    }
    if ('outcome' in decided) return decided.outcome;
    const message = decided.message;
    if (message.status === 'sent' && message.sentAt) {
      return { outcome: 'sent', messageId: message.id, sentAt: message.sentAt.toISOString() };
    }
    if (message.status === 'failed') return { outcome: 'failed', reason: message.failureReason ?? 'the provider refused the email' };

    // Phase 2: hand it to the provider with the same key on every attempt, then record it. What
    // follows the email is decided once the provider took it, from the instant it went (by the
    // workflow's clock, or the machine's when later: a retry, a quota's wait), and written in the
    // same statement.
    const { ctx } = decided;
    let after: { decided: PlanAfterSend; previousAt: Date } | null = null;
    const result = await deliverMessage(deps, message, {
      alsoWhenSent: (sentAt) => {
        const previousAt = new Date(Math.max(Date.parse(now), sentAt.getTime()));
        const planned = ctx ? planAfterSend(ctx, stepId, previousAt, { sendsLocally: sentLocally }) : null;
        after = planned ? { decided: planned, previousAt } : null;
        return sentStatements(message, planned, sentAt);
      },
      // The enrolment after the statement: its status, and whether this statement completed it;
      // nothing when another attempt had marked the email sent.
      answer: sql`(select status from written_enrolment) as status, (select completed_now from written_enrolment) as completed_now`,
    });
    if (!result.delivered) {
      if ('postponedUntil' in result) {
        const until = result.postponedUntil.toISOString();
        await db
          .update(enrolments)
          .set({ waitingFor: { cause: 'provider_quota', until }, nextDueAt: result.postponedUntil })
          .where(and(eq(enrolments.id, enrolmentId), eq(enrolments.status, 'active')));
        return { outcome: 'postponed', until, reason: result.reason };
      }
      return { outcome: 'failed', reason: `the provider refused step email: ${result.rejected}` };
    }
    logger.info({ accountId: message.accountId, enrolmentId, stepId, messageId: message.id }, 'email sent');
    const sentOutcome = { outcome: 'sent' as const, messageId: message.id, sentAt: result.sentAt.toISOString() };
    const written = after as { decided: PlanAfterSend; previousAt: Date } | null;
    if (!written) return sentOutcome;
    const previousAt = written.previousAt.toISOString();
    if ('plan' in written.decided && result.answer?.status === 'active') {
      return { ...sentOutcome, following: { previousAt, plan: written.decided.plan } };
    }
    if ('completed' in written.decided && result.answer?.completed_now === true) {
      const { enrolment, account } = ctx!;
      logger.info({ enrolmentId, from: 'active', to: 'completed' }, 'enrolment status changed');
      await notifyEnrolmentEnded(deps, enrolment, { status: 'completed', reason: REASONS.allStepsSent }, account.portalWebhookUrl);
      return { ...sentOutcome, following: { previousAt, completed: { reason: REASONS.allStepsSent } } };
    }
    return sentOutcome;
  };
}

/**
 * The writes that go with a step's email marked sent (deliverMessage's `alsoWhenSent`): the
 * enrolment's last step and, when the send decided it, its next plan or its completion; the
 * timeline's events. The plan and the completion apply only to an enrolment still active (an
 * attempt outliving its workflow's end changes nothing of it). The completion also waits for
 * nothing that came while the email went: a step added since, or the lead unsubscribed, bounced,
 * marked do-not-contact or replied (written before the workflow is told). Then the enrolment
 * stays active and the workflow, told nothing, plans and records as before.
 */
function sentStatements(message: Message, after: PlanAfterSend | null, sentAt: Date): Record<string, SQL> {
  const at = sql`${sentAt.toISOString()}::timestamptz`;
  const completes = sql`enrolments.status = 'active' and enrolments.replied_at is null
    and not exists (select from leads l where l.id = enrolments.lead_id
      and (l.unsubscribed_at is not null or l.bounced_at is not null or l.do_not_contact_at is not null))
    and not exists (select from steps s where s.sequence_id = enrolments.sequence_id and s.deleted_at is null
      and s.id <> ${message.stepId}
      and not exists (select from messages m where m.step_id = s.id and m.enrolment_id = enrolments.id and m.status <> 'failed'))`;
  const whileActive = (value: SQL, otherwise: SQL) => sql`case when status = 'active' then ${value} else ${otherwise} end`;
  const whenCompleting = (value: SQL, otherwise: SQL) => sql`case when ${completes} then ${value} else ${otherwise} end`;
  const nextOrEnd =
    after && 'plan' in after
      ? sql`, next_step_id = ${whileActive(sql`${after.plan.next!.stepId}::uuid`, sql`next_step_id`)},
          next_due_at = ${whileActive(sql`${after.plan.next!.dueAt}::timestamptz`, sql`next_due_at`)},
          waiting_for = ${whileActive(sql`${JSON.stringify(after.wait)}::jsonb`, sql`null`)},
          holdout = coalesce(holdout, false)`
      : after
        ? sql`, status = ${whenCompleting(sql`'completed'`, sql`status`)},
            ended_at = ${whenCompleting(at, sql`ended_at`)},
            ended_reason = ${whenCompleting(sql`${REASONS.allStepsSent}::text`, sql`ended_reason`)},
            next_step_id = ${whenCompleting(sql`null`, sql`next_step_id`)},
            next_due_at = ${whenCompleting(sql`null`, sql`next_due_at`)},
            paused_until = ${whenCompleting(sql`null`, sql`paused_until`)},
            waiting_for = null`
        : sql`, waiting_for = null`;
  return {
    // RETURNING sees the row as written: it was completed now when its ending is this statement's.
    written_enrolment: sql`update enrolments set last_step_id = ${message.stepId}, last_sent_at = ${at}, updated_at = ${at}${nextOrEnd}
      where id = ${message.enrolmentId} and exists (select from sent)
      returning status, (status = 'completed' and ended_at = ${at}) as completed_now`,
    // The timeline: which variant went (looked up here: a retry may not have chosen it) and, after
    // it in time, the completion (a microsecond later: the same statement's clock otherwise).
    sent_event: sql`insert into enrolment_events (account_id, enrolment_id, type, detail)
      select ${message.accountId}, ${message.enrolmentId}, 'email_sent',
        jsonb_build_object('stepId', ${message.stepId}::text, 'messageId', sent.id, 'subject', ${message.subject}::text)
        || case when sent.variant_id is null then '{}'::jsonb
           else jsonb_strip_nulls(jsonb_build_object('variantId', sent.variant_id, 'variant', v.label)) end
      from sent left join step_variants v on v.id = sent.variant_id`,
    completed_event: sql`insert into enrolment_events (account_id, enrolment_id, type, from_status, to_status, detail, created_at)
      select ${message.accountId}, ${message.enrolmentId}, 'status_changed', 'active', 'completed',
        jsonb_build_object('reason', ${REASONS.allStepsSent}::text), now() + interval '1 microsecond'
      from written_enrolment where written_enrolment.completed_now`,
  };
}
