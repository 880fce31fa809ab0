import { and, asc, count, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Account } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { enrolments, sequences, steps } from '../../db/schema.js';
import { checkTemplateOffThread } from '../../domain/compose-pool.js';
import { TemplateError } from '../../domain/merge-fields.js';
import { liveSender } from './senders.js';
import { ApiError, notFound } from '../errors.js';
import { insertVariants, labelled, lockStep, toVariantDto, variantsOfSteps, withVariants, type StepWithVariants } from './step-variants.js';
import type {
  sequenceCreateSchema,
  sequencePatchSchema,
  sequenceSchema,
  stepInputSchema,
  stepPatchSchema,
  stepSchema,
} from '../schemas/sequences.js';
import { keyset, pageOf } from '../pagination.js';
import { renderFor } from './render-queue.js';
import { REASONS } from '../../domain/enrolment-status.js';

export type Sequence = typeof sequences.$inferSelect;
export type Step = typeof steps.$inferSelect;
type StepInput = z.infer<typeof stepInputSchema>;
type StepPatch = z.infer<typeof stepPatchSchema>;
type StepContent = { subject?: string | undefined; body?: string | undefined };
type SequenceAction = 'pause' | 'resume' | 'archive';

/**
 * A step's templates are checked when it is saved: unknown merge tags, tags a template may not
 * use, and templates over the render limits are refused with the step's field named.
 */
export async function checkStepTemplates(
  accountId: string,
  stepsToCheck: StepContent[],
  fieldPrefix: (index: number) => string = () => '',
): Promise<void> {
  await renderFor(accountId, async () => {
    for (const [index, step] of stepsToCheck.entries()) {
      for (const field of ['subject', 'body'] as const) {
        const source = step[field];
        if (source === undefined) continue;
        try {
          await checkTemplateOffThread(source);
        } catch (error) {
          if (error instanceof TemplateError) throw new ApiError(422, error.code, error.message, `${fieldPrefix(index)}${field}`);
          throw error;
        }
      }
    }
  });
}

/**
 * Checks steps and every variant of each, the field naming where it sits: `steps.2.body`,
 * `steps.0.variants.1.subject`, or `variants.1.body` for one step.
 */
async function checkStepInputs(accountId: string, inputs: (StepInput | StepPatch)[], stepPrefix: (index: number) => string) {
  const templates = inputs.flatMap((step, i) => [
    { content: step, prefix: stepPrefix(i) },
    ...(step.variants ?? []).map((variant, j) => ({ content: variant, prefix: `${stepPrefix(i)}variants.${j}.` })),
  ]);
  await checkStepTemplates(
    accountId,
    templates.map((t) => t.content),
    (k) => templates[k]!.prefix,
  );
}

/** What a step stores as its own subject and body: variant A's when it has variants. */
function ownContent(input: StepInput): { subject: string; body: string };
function ownContent(input: StepPatch): StepContent;
function ownContent(input: StepInput | StepPatch): StepContent {
  const source = input.variants?.[0] ?? input;
  return { subject: source.subject, body: source.body };
}

/** How a step threads, as given (what is left out stays as it is, or takes the default). */
const threading = (input: { inThread?: boolean | null; quotePrevious?: boolean }) => ({
  ...(input.inThread !== undefined ? { inThread: input.inThread } : {}),
  ...(input.quotePrevious !== undefined ? { quotePrevious: input.quotePrevious } : {}),
});

export async function findSequence(db: Db, account: Account, id: string): Promise<Sequence> {
  const [row] = await db
    .select()
    .from(sequences)
    .where(and(eq(sequences.id, id), eq(sequences.accountId, account.id)));
  if (!row) throw notFound('Sequence');
  return row;
}

export async function liveSteps(db: Db, sequenceId: string): Promise<Step[]> {
  return db
    .select()
    .from(steps)
    .where(and(eq(steps.sequenceId, sequenceId), isNull(steps.deletedAt)))
    .orderBy(asc(steps.position));
}

/** The live steps in order with their variants: two queries, however many steps. */
export async function liveStepsWithVariants(db: Db, sequenceId: string): Promise<StepWithVariants[]> {
  return withVariants(db, await liveSteps(db, sequenceId));
}

export function assertEditable(sequence: Sequence): void {
  if (sequence.status === 'archived') throw new ApiError(409, 'sequence_archived', 'An archived sequence cannot be changed');
}

export async function assertStepLimit(db: Db, account: Account, sequenceId: string, adding: number): Promise<void> {
  const max = account.limits.maxStepsPerSequence;
  if (max === null) return;
  const [row] = await db
    .select({ n: count() })
    .from(steps)
    .where(and(eq(steps.sequenceId, sequenceId), isNull(steps.deletedAt)));
  if ((row?.n ?? 0) + adding > max) {
    throw new ApiError(422, 'plan_limit_steps', `Your plan allows ${max} steps per sequence`, 'steps');
  }
}

export async function createSequence(db: Db, account: Account, input: z.infer<typeof sequenceCreateSchema>) {
  await checkStepInputs(account.id, input.steps, (i) => `steps.${i}.`);
  const maxSequences = account.limits.maxSequences;
  if (maxSequences !== null) {
    const [row] = await db
      .select({ n: count() })
      .from(sequences)
      .where(and(eq(sequences.accountId, account.id), ne(sequences.status, 'archived')));
    if ((row?.n ?? 0) >= maxSequences) {
      throw new ApiError(422, 'plan_limit_sequences', `Your plan allows ${maxSequences} sequences`);
    }
  }
  const maxSteps = account.limits.maxStepsPerSequence;
  if (maxSteps !== null && input.steps.length > maxSteps) {
    throw new ApiError(422, 'plan_limit_steps', `Your plan allows ${maxSteps} steps per sequence`, 'steps');
  }
  return db.transaction(async (tx) => {
    if (input.senderId) await liveSender(tx, account, input.senderId);
    const [sequence] = await tx
      .insert(sequences)
      .values({
        accountId: account.id,
        name: input.name,
        senderId: input.senderId,
        format: input.format,
        onReply: input.onReply,
        sendWindow: input.sendWindow,
        skipHolidays: input.skipHolidays,
        newLeadsPerDay: input.newLeadsPerDay,
        outOfOfficeDays: input.outOfOfficeDays,
        onColleagueReply: input.onColleagueReply,
        colleagueScope: input.colleagueScope,
        leadEventRules: input.leadEventRules,
        holdoutPercent: input.holdoutPercent,
      })
      .returning();
    const created = input.steps.length
      ? await tx
          .insert(steps)
          .values(
            input.steps.map((s, i) => ({
              accountId: account.id,
              sequenceId: sequence!.id,
              position: i + 1,
              ...ownContent(s),
              ...threading(s),
              delayAmount: s.delay.amount,
              delayUnit: s.delay.unit,
            })),
          )
          .returning()
      : [];
    created.sort((a, b) => a.position - b.position);
    // Every step's variants in one insert.
    const variants = await insertVariants(
      tx,
      created.flatMap((step) => labelled(account.id, step.id, input.steps[step.position - 1]!.variants ?? [])),
    );
    const stepsWithVariants = created.map((step) => ({ ...step, variants: variants.filter((v) => v.stepId === step.id) }));
    return { sequence: sequence!, steps: stepsWithVariants };
  });
}

export async function addStep(db: Db, account: Account, sequence: Sequence, input: StepInput): Promise<StepWithVariants> {
  assertEditable(sequence);
  await checkStepInputs(account.id, [input], () => '');
  await assertStepLimit(db, account, sequence.id, 1);
  return db.transaction(async (tx) => {
    const [step] = await tx
      .insert(steps)
      .values({
        accountId: account.id,
        sequenceId: sequence.id,
        position: sql`(select coalesce(max(position), 0) + 1 from ${steps} where sequence_id = ${sequence.id})`,
        ...ownContent(input),
        ...threading(input),
        delayAmount: input.delay.amount,
        delayUnit: input.delay.unit,
      })
      .returning();
    return { ...step!, variants: await insertVariants(tx, labelled(account.id, step!.id, input.variants ?? [])) };
  });
}

export function toStepDto(step: StepWithVariants): z.input<typeof stepSchema> {
  return {
    id: step.id,
    position: step.position,
    subject: step.subject,
    body: step.body,
    delay: { amount: step.delayAmount, unit: step.delayUnit },
    variants: step.variants.map(toVariantDto),
    inThread: step.inThread,
    quotePrevious: step.quotePrevious,
    winnerVariantId: step.winnerVariantId,
    updatedAt: step.updatedAt.toISOString(),
  };
}

export function toSequenceDto(sequence: Sequence, stepRows: StepWithVariants[]): z.input<typeof sequenceSchema> {
  return {
    id: sequence.id,
    name: sequence.name,
    status: sequence.status,
    onReply: sequence.onReply,
    sendWindow: sequence.sendWindow ?? null,
    skipHolidays: sequence.skipHolidays,
    newLeadsPerDay: sequence.newLeadsPerDay,
    protection: sequence.protection ?? null,
    outOfOfficeDays: sequence.outOfOfficeDays,
    onColleagueReply: sequence.onColleagueReply,
    colleagueScope: sequence.colleagueScope,
    leadEventRules: sequence.leadEventRules,
    holdoutPercent: sequence.holdoutPercent,
    senderId: sequence.senderId,
    format: sequence.format,
    steps: stepRows.map(toStepDto),
    createdAt: sequence.createdAt.toISOString(),
    updatedAt: sequence.updatedAt.toISOString(),
  };
}

/** A page of the account's sequences, newest first, each with its live steps in order. */
export async function listSequences(db: Db, account: Account, query: { limit: number; cursor?: { at: Date; id: string } }) {
  const { where, orderBy } = keyset(query.cursor, sequences.createdAt, sequences.id, 'desc');
  const rows = await db
    .select()
    .from(sequences)
    .where(and(eq(sequences.accountId, account.id), where))
    .orderBy(...orderBy)
    .limit(query.limit + 1);
  const { page, nextCursor } = pageOf(rows, query.limit, (s) => ({ at: s.createdAt, id: s.id }));
  const stepRows = page.length
    ? await db
        .select()
        .from(steps)
        .where(
          and(
            inArray(
              steps.sequenceId,
              page.map((s) => s.id),
            ),
            isNull(steps.deletedAt),
          ),
        )
    : [];
  const withTheirVariants = await withVariants(db, stepRows);
  const stepsOf = (sequenceId: string) =>
    withTheirVariants.filter((st) => st.sequenceId === sequenceId).sort((a, b) => a.position - b.position);
  return { page: page.map((sequence) => ({ sequence, steps: stepsOf(sequence.id) })), nextCursor };
}

/** Changes a sequence's name, on-reply action or send window; true when waiting enrolments must re-plan. */
export async function updateSequence(db: Db, sequence: Sequence, patch: z.infer<typeof sequencePatchSchema>) {
  assertEditable(sequence);
  const [updated] = await db.transaction(async (tx) => {
    if (patch.senderId) await liveSender(tx, { id: sequence.accountId }, patch.senderId);
    // A changed new-leads cap releases its queue: those emails plan again and the send judges them by the new cap.
    if (patch.newLeadsPerDay !== undefined && patch.newLeadsPerDay !== sequence.newLeadsPerDay) {
      await tx
        .update(enrolments)
        .set({ waitingFor: null })
        .where(
          and(
            eq(enrolments.sequenceId, sequence.id),
            eq(enrolments.status, 'active'),
            sql`${enrolments.waitingFor}->>'cause' = 'new_leads_cap'`,
          ),
        );
    }
    return tx
      .update(sequences)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(sequences.id, sequence.id))
      .returning();
  });
  return {
    sequence: updated!,
    replan: patch.sendWindow !== undefined || patch.skipHolidays !== undefined || patch.newLeadsPerDay !== undefined,
  };
}

/** The status a sequence-wide action leaves the sequence in, and what it tells every live enrolment. */
export function sequenceActionEffect(action: SequenceAction) {
  return {
    status: action === 'pause' ? ('paused' as const) : action === 'resume' ? ('active' as const) : ('archived' as const),
    signal: action === 'archive' ? ('stop' as const) : action,
    // The pause says why (the enrolment's timeline and its waitingFor name the sequence's pause).
    reason: action === 'archive' ? REASONS.sequenceArchived : action === 'pause' ? REASONS.sequencePaused : undefined,
  };
}

/**
 * Pause, resume or archive a sequence. Its status is the durable truth (a workflow planning its
 * next step reads it); the caller then broadcasts the signal so every live enrolment follows at once.
 */
export async function setSequenceStatus(db: Db, sequence: Sequence, action: SequenceAction): Promise<Sequence> {
  assertEditable(sequence);
  const { status } = sequenceActionEffect(action);
  // A person resuming what the breaker paused is honoured: its grace period starts now. Written in
  // the same statement as the status, against the row as it is then: a trip committed a moment
  // before is the one resumed, never left unresumed on an active sequence.
  const now = new Date();
  const [updated] = await db
    .update(sequences)
    .set({
      status,
      updatedAt: now,
      ...(action === 'archive' ? { archivedAt: now } : {}),
      ...(action === 'resume'
        ? {
            protection: sql`case when ${sequences.protection}->>'resumedAt' is null
              then jsonb_set(${sequences.protection}, '{resumedAt}', to_jsonb(${now.toISOString()}::text))
              else ${sequences.protection} end`,
          }
        : {}),
    })
    .where(eq(sequences.id, sequence.id))
    .returning();
  return updated!;
}

/**
 * Changes a step's delay, its subject and body, or turns it into an experiment (`variants`). A
 * step that has variants sends them, not its own subject and body: those change with its
 * variants (api/services/step-variants.ts), so a change of them here is refused rather than
 * silently ignored by every email.
 */
export async function updateStep(
  db: Db,
  account: Account,
  sequence: Sequence,
  stepId: string,
  patch: StepPatch,
): Promise<StepWithVariants> {
  assertEditable(sequence);
  await checkStepInputs(account.id, [patch], () => '');
  return db.transaction(async (tx) => {
    const current = await lockStep(tx, account, sequence, stepId);
    const existing = (await variantsOfSteps(tx, [current.id])).get(current.id)!;
    const touched = (['variants', 'subject', 'body'] as const).find((field) => patch[field] !== undefined);
    if (existing.length && touched) {
      throw new ApiError(
        409,
        'step_has_variants',
        'This step is an experiment: change its variants through /v1/sequences/{id}/steps/{stepId}/variants',
        touched,
      );
    }
    const content = ownContent(patch);
    const [step] = await tx
      .update(steps)
      .set({
        ...(content.subject !== undefined ? { subject: content.subject } : {}),
        ...(content.body !== undefined ? { body: content.body } : {}),
        ...(patch.delay ? { delayAmount: patch.delay.amount, delayUnit: patch.delay.unit } : {}),
        ...threading(patch),
        updatedAt: new Date(),
      })
      .where(eq(steps.id, current.id))
      .returning();
    const variants = patch.variants ? await insertVariants(tx, labelled(account.id, current.id, patch.variants)) : existing;
    return { ...step!, variants };
  });
}

/** Kept, not erased: sent messages point at it, and its position marks the place. */
export async function deleteStep(db: Db, sequence: Sequence, stepId: string): Promise<void> {
  assertEditable(sequence);
  const [step] = await db
    .update(steps)
    .set({ deletedAt: new Date() })
    .where(and(eq(steps.id, stepId), eq(steps.sequenceId, sequence.id), isNull(steps.deletedAt)))
    .returning();
  if (!step) throw notFound('Step');
}

/** Puts the steps in the order given, which must name every live step exactly once. */
export async function reorderSteps(db: Db, sequence: Sequence, stepIds: string[]): Promise<StepWithVariants[]> {
  assertEditable(sequence);
  const current = await liveSteps(db, sequence.id);
  const same =
    current.length === stepIds.length && new Set(stepIds).size === stepIds.length && current.every((s) => stepIds.includes(s.id));
  if (!same) throw new ApiError(422, 'step_order_mismatch', 'stepIds must list every step of the sequence exactly once', 'stepIds');
  await db.transaction(async (tx) => {
    for (const [index, stepId] of stepIds.entries()) {
      await tx
        .update(steps)
        .set({ position: index + 1, updatedAt: new Date() })
        .where(eq(steps.id, stepId));
    }
  });
  return liveStepsWithVariants(db, sequence.id);
}
