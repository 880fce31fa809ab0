import { sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { variantAssignments } from './schema.js';

type Transaction = Parameters<Parameters<Db['transaction']>[0]>[0];

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
