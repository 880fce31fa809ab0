import { and, eq, inArray, sql } from 'drizzle-orm';
import { assignable, chooseVariant, type AssignableVariant } from '../domain/experiment.js';
import type { Db, Transaction } from './client.js';
import { messages, variantAssignments } from './schema.js';

export interface VariantAssignment {
  accountId: string;
  enrolmentId: string;
  stepId: string;
  variantId: string;
}

/**
 * Writes which variant of a step an enrolment gets (domain/experiment.ts chose it). A first
 * assignment is kept if another writer stored one meanwhile (the choice is deterministic, so it
 * is the same one); a move replaces the old one and says when.
 */
export async function storeVariantAssignment(db: Db | Transaction, assignment: VariantAssignment, kind: 'first' | 'move'): Promise<void> {
  const insert = db.insert(variantAssignments).values(assignment);
  if (kind === 'first') await insert.onConflictDoNothing();
  else
    await insert.onConflictDoUpdate({
      target: [variantAssignments.enrolmentId, variantAssignments.stepId],
      set: { variantId: assignment.variantId, movedAt: sql`now()` },
      setWhere: sql`${variantAssignments.variantId} <> excluded.variant_id`,
    });
}

/**
 * Moves the step's unsent assignments off variants no longer assigned (removed, stopped by a
 * guardrail, beaten by a declared winner) to the variants left, each by its own deterministic
 * choice among them (so by weight). An email already stored for the step keeps its variant: what
 * was sent never changes. Returns how many moved.
 */
export async function moveUnsentAssignments(
  db: Db | Transaction,
  step: { id: string; variants: readonly AssignableVariant[] },
  fromVariantIds: readonly string[],
): Promise<number> {
  if (fromVariantIds.length === 0 || assignable(step.variants).length === 0) return 0;
  const unsent = sql`not exists (select 1 from ${messages} m where m.enrolment_id = ${variantAssignments.enrolmentId} and m.step_id = ${step.id})`;
  const waiting = await db
    .select({ enrolmentId: variantAssignments.enrolmentId, from: variantAssignments.variantId })
    .from(variantAssignments)
    .where(and(eq(variantAssignments.stepId, step.id), inArray(variantAssignments.variantId, [...fromVariantIds]), unsent));
  let moved = 0;
  // Grouped by destination: one update per variant left, however many enrolments move.
  const byVariant = new Map<string, string[]>();
  for (const { enrolmentId, from } of waiting) {
    // The same choice a send makes for an email it finds on a variant no longer assigned.
    const to = chooseVariant(enrolmentId, step.id, step.variants, from)!;
    const group = byVariant.get(to.id);
    if (group) group.push(enrolmentId);
    else byVariant.set(to.id, [enrolmentId]);
  }
  for (const [variantId, enrolmentIds] of byVariant) {
    for (let i = 0; i < enrolmentIds.length; i += 1000) {
      const chunk = enrolmentIds.slice(i, i + 1000);
      const rows = await db
        .update(variantAssignments)
        .set({ variantId, movedAt: sql`now()` })
        // Still on a variant left and still unsent: a send may have moved or used it meanwhile.
        .where(
          and(
            eq(variantAssignments.stepId, step.id),
            inArray(variantAssignments.enrolmentId, chunk),
            inArray(variantAssignments.variantId, [...fromVariantIds]),
            unsent,
          ),
        )
        .returning({ enrolmentId: variantAssignments.enrolmentId });
      moved += rows.length;
    }
  }
  return moved;
}
