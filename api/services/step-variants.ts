import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Account } from '../../db/accounts.js';
import type { Db, Transaction } from '../../db/client.js';
import { steps, stepVariants, type VariantStatus } from '../../db/schema.js';
import { moveUnsentAssignments } from '../../db/variant-assignments.js';
import { assignable, byLabel, canAddVariant, nextVariantLabel } from '../../domain/experiment.js';
import { MAX_VARIANTS } from '../../domain/experiment-stats.js';
import { ApiError, notFound } from '../errors.js';
import type { stepVariantSchema, variantInputSchema, variantPatchSchema } from '../schemas/sequences.js';
import { assertEditable, checkStepTemplates, type Sequence, type Step } from './sequences.js';

/**
 * A step's variants as the portal manages them (docs/concepts.md, "Experiments: variants and the
 * holdout"). Which enrolment gets which variant is decided by planning (domain/experiment.ts);
 * here a user adds, edits, removes variants and declares a winner, each in one transaction with
 * the step locked, so two portal tabs never both take label C or both remove the last variant.
 */

export type StepVariant = typeof stepVariants.$inferSelect;
export type StepWithVariants = Step & { variants: StepVariant[] };
export type VariantInput = z.infer<typeof variantInputSchema>;
type VariantPatch = z.infer<typeof variantPatchSchema>;

/** Only these may be changed or removed: the others are the record of what went. */
const EDITABLE: readonly VariantStatus[] = ['active', 'winner'];
// Far below PostgreSQL's 65,535 parameters, for a page of sequences with many steps.
const IDS_PER_QUERY = 10_000;

/** Every variant of the steps, by step and label: one query for them all, never one per step. */
export async function variantsOfSteps(db: Db | Transaction, stepIds: readonly string[]): Promise<Map<string, StepVariant[]>> {
  const byStep = new Map<string, StepVariant[]>(stepIds.map((id) => [id, []]));
  for (let i = 0; i < stepIds.length; i += IDS_PER_QUERY) {
    const rows = await db
      .select()
      .from(stepVariants)
      .where(inArray(stepVariants.stepId, stepIds.slice(i, i + IDS_PER_QUERY)))
      .orderBy(asc(stepVariants.stepId), asc(stepVariants.label));
    for (const row of rows) byStep.get(row.stepId)?.push(row);
  }
  return byStep;
}

export async function withVariants(db: Db | Transaction, stepRows: readonly Step[]): Promise<StepWithVariants[]> {
  const byStep = await variantsOfSteps(
    db,
    stepRows.map((s) => s.id),
  );
  return stepRows.map((step) => ({ ...step, variants: byStep.get(step.id) ?? [] }));
}

export function toVariantDto(v: StepVariant): z.input<typeof stepVariantSchema> {
  return {
    id: v.id,
    label: v.label as z.input<typeof stepVariantSchema>['label'],
    subject: v.subject,
    body: v.body,
    weight: v.weight,
    status: v.status,
    endedReason: v.endedReason,
    endedAt: v.endedAt?.toISOString() ?? null,
  };
}

/**
 * The variant whose subject and body the step keeps for views that show one (lists, previews,
 * test copies): the winner, else the first assignable by label.
 */
export const mirroredVariant = <V extends StepVariant>(variants: readonly V[]): V | undefined => assignable(variants)[0];

/** New variants of a step, labelled after those it already used (a label is never reused). */
export function labelled(accountId: string, stepId: string, inputs: readonly VariantInput[], usedLabels: readonly string[] = []) {
  const used = [...usedLabels];
  return inputs.map((input) => {
    const label = nextVariantLabel(used);
    if (!label) throw tooMany();
    used.push(label);
    return { accountId, stepId, label, subject: input.subject, body: input.body, weight: input.weight };
  });
}

export async function insertVariants(tx: Transaction, rows: ReturnType<typeof labelled>): Promise<StepVariant[]> {
  return rows.length ? (await tx.insert(stepVariants).values(rows).returning()).sort(byLabel) : [];
}

/** The live step of the sequence, of this account, locked until the transaction ends. */
export async function lockStep(tx: Transaction, account: Account, sequence: Sequence, stepId: string): Promise<Step> {
  const [step] = await tx
    .select()
    .from(steps)
    .where(and(eq(steps.id, stepId), eq(steps.sequenceId, sequence.id), eq(steps.accountId, account.id), isNull(steps.deletedAt)))
    .for('update');
  if (!step) throw notFound('Step');
  return step;
}

const tooMany = () =>
  new ApiError(
    409,
    'too_many_variants',
    `A step has at most ${MAX_VARIANTS} variants, removed ones included (their emails stay in its record)`,
  );
const decided = (step: Step, variants: readonly StepVariant[]) =>
  new ApiError(
    409,
    'experiment_decided',
    `Variant ${variants.find((v) => v.id === step.winnerVariantId)?.label ?? '?'} was declared the winner of this step: its experiment is over`,
  );

function findVariant(variants: readonly StepVariant[], variantId: string, options: { editable: boolean }): StepVariant {
  const variant = variants.find((v) => v.id === variantId);
  if (!variant) throw notFound('Variant');
  if (options.editable && !EDITABLE.includes(variant.status)) {
    throw new ApiError(
      409,
      'variant_ended',
      `Variant ${variant.label} is ${variant.status}: only active variants and the winner can change`,
    );
  }
  return variant;
}

/** Writes what the step mirrors of its variants, and says it changed. */
async function saveStep(tx: Transaction, step: Step, variants: StepVariant[], set: Partial<Step> = {}): Promise<StepWithVariants> {
  const mirror = mirroredVariant(variants);
  const [updated] = await tx
    .update(steps)
    .set({ ...(mirror ? { subject: mirror.subject, body: mirror.body } : {}), ...set, updatedAt: new Date() })
    .where(eq(steps.id, step.id))
    .returning();
  return { ...updated!, variants };
}

const replaced = (variants: readonly StepVariant[], changed: readonly StepVariant[]) =>
  variants.map((v) => changed.find((c) => c.id === v.id) ?? v);

/**
 * Adds the next variant. A step that is no experiment yet becomes an A/B test: its own subject
 * and body become variant A (weight 1), the new one B. Enrolments already assigned keep their
 * variant; the new one takes its share of assignments from now on.
 */
export async function addVariant(db: Db, account: Account, sequence: Sequence, stepId: string, input: VariantInput) {
  assertEditable(sequence);
  await checkStepTemplates(account.id, [input]);
  return db.transaction(async (tx) => {
    const step = await lockStep(tx, account, sequence, stepId);
    const existing = (await variantsOfSteps(tx, [step.id])).get(step.id)!;
    if (step.winnerVariantId) throw decided(step, existing);
    if (!canAddVariant(existing.length)) throw tooMany();
    const inputs = existing.length === 0 ? [{ subject: step.subject, body: step.body, weight: 1 }, input] : [input];
    const added = await insertVariants(
      tx,
      labelled(
        account.id,
        step.id,
        inputs,
        existing.map((v) => v.label),
      ),
    );
    return saveStep(tx, step, [...existing, ...added].sort(byLabel));
  });
}

/** Changes an active variant or the winner: rendering happens at send time, so every unsent email of it goes as changed. */
export async function updateVariant(db: Db, account: Account, sequence: Sequence, stepId: string, variantId: string, patch: VariantPatch) {
  assertEditable(sequence);
  await checkStepTemplates(account.id, [patch]);
  return db.transaction(async (tx) => {
    const step = await lockStep(tx, account, sequence, stepId);
    const variants = (await variantsOfSteps(tx, [step.id])).get(step.id)!;
    findVariant(variants, variantId, { editable: true });
    const [changed] = await tx
      .update(stepVariants)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(stepVariants.id, variantId))
      .returning();
    return saveStep(tx, step, replaced(variants, [changed!]));
  });
}

/**
 * Removes a variant from the experiment: kept as `removed` (its emails stay in the record), and
 * its unsent enrolments move to the variants left, by weight.
 */
export async function removeVariant(db: Db, account: Account, sequence: Sequence, stepId: string, variantId: string) {
  assertEditable(sequence);
  return db.transaction(async (tx) => {
    const step = await lockStep(tx, account, sequence, stepId);
    const variants = (await variantsOfSteps(tx, [step.id])).get(step.id)!;
    const variant = findVariant(variants, variantId, { editable: true });
    if (!assignable(variants).some((v) => v.id !== variant.id)) {
      throw new ApiError(409, 'last_variant', `Variant ${variant.label} is the last one this step can send: it cannot be removed`);
    }
    const [removed] = await tx
      .update(stepVariants)
      .set({ status: 'removed', endedReason: 'removed by a user', endedAt: new Date(), updatedAt: new Date() })
      .where(eq(stepVariants.id, variantId))
      .returning();
    const after = replaced(variants, [removed!]);
    const moved = await moveUnsentAssignments(tx, { id: step.id, variants: after }, [variantId]);
    return { step: await saveStep(tx, step, after), moved };
  });
}

/**
 * Ends the experiment with a winner: the other active variants have lost, every unsent enrolment
 * goes as the winner, and the step mirrors it. Once only: the record of the decision stays.
 */
export async function declareWinner(db: Db, account: Account, sequence: Sequence, stepId: string, variantId: string) {
  assertEditable(sequence);
  return db.transaction(async (tx) => {
    const step = await lockStep(tx, account, sequence, stepId);
    const variants = (await variantsOfSteps(tx, [step.id])).get(step.id)!;
    if (step.winnerVariantId) throw decided(step, variants);
    const winner = findVariant(variants, variantId, { editable: true });
    const now = new Date();
    const changed = await tx
      .update(stepVariants)
      .set({
        status: sql`case when ${stepVariants.id} = ${winner.id} then 'winner' else 'lost' end`,
        endedReason: sql`case when ${stepVariants.id} = ${winner.id} then null else ${`lost to variant ${winner.label}`} end`,
        endedAt: sql`case when ${stepVariants.id} = ${winner.id} then null else ${now.toISOString()}::timestamptz end`,
        updatedAt: now,
      })
      .where(and(eq(stepVariants.stepId, step.id), eq(stepVariants.status, 'active')))
      .returning();
    const after = replaced(variants, changed);
    // Every other variant, stopped and removed ones too: an email of theirs still unsent goes as the winner.
    const others = variants.filter((v) => v.id !== winner.id).map((v) => v.id);
    const moved = await moveUnsentAssignments(tx, { id: step.id, variants: after }, others);
    return { step: await saveStep(tx, step, after, { winnerVariantId: winner.id }), moved };
  });
}
