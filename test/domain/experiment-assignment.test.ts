import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  assignable,
  chooseVariant,
  inHoldout,
  nextVariantLabel,
  uniformPoint,
  variantForEnrolment,
  type AssignableVariant,
} from '../../domain/experiment.js';

/** Enrolment ids as the database makes them (random UUIDs), but the same on every run. */
function seededIds(n: number, seed: string): string[] {
  return Array.from({ length: n }, (_, i) => {
    const hex = createHash('sha256').update(`${seed}:${i}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  });
}

const variant = (label: string, weight = 1, status: AssignableVariant['status'] = 'active'): AssignableVariant => ({
  id: `variant-${label}`,
  label,
  weight,
  status,
});
const STEP = '7b0c6a8e-2f5d-4c1e-9a3b-1d2e3f4a5b6c';

/** How many of the ids each variant gets. */
function shares(ids: string[], variants: AssignableVariant[], movedFrom?: string) {
  const counts = new Map<string, number>();
  for (const id of ids) {
    const chosen = chooseVariant(id, STEP, variants, movedFrom)!;
    counts.set(chosen.label, (counts.get(chosen.label) ?? 0) + 1);
  }
  return counts;
}

/**
 * The tolerance for a share of n independent choices: 4 standard deviations of a binomial
 * proportion (a fair assignment falls outside it about once in 16,000 experiments).
 */
const tolerance = (p: number, n: number) => 4 * Math.sqrt((p * (1 - p)) / n);

describe('assigning a variant to an enrolment', () => {
  it('gives the same enrolment the same variant every time it is asked (a replay, a retry, another worker)', () => {
    const variants = [variant('A'), variant('B'), variant('C')];
    for (const id of seededIds(50, 'same')) {
      const first = chooseVariant(id, STEP, variants);
      expect(chooseVariant(id, STEP, [...variants].reverse())).toEqual(first);
      expect(chooseVariant(id, STEP, variants)).toEqual(first);
    }
  });

  it('chooses independently per step: an enrolment on variant A of step 1 is not thereby on A of step 2', () => {
    const variants = [variant('A'), variant('B')];
    const ids = seededIds(1000, 'steps');
    const same = ids.filter((id) => chooseVariant(id, 'step-1', variants)!.label === chooseVariant(id, 'step-2', variants)!.label);
    expect(Math.abs(same.length / ids.length - 0.5)).toBeLessThan(tolerance(0.5, ids.length));
  });

  it.each([
    { weights: [1, 1], name: 'equal weights' },
    { weights: [3, 1], name: '3 : 1' },
    { weights: [50, 30, 20], name: '50 : 30 : 20' },
    { weights: [1, 1, 1, 1, 96], name: 'five variants, one heavy' },
  ])('respects $name over 1,000 enrolments, each share within 4 standard deviations', ({ weights }) => {
    const variants = weights.map((w, i) => variant('ABCDE'[i]!, w));
    const ids = seededIds(1000, 'weights');
    const counts = shares(ids, variants);
    const total = weights.reduce((a, b) => a + b, 0);
    for (const v of variants) {
      const expected = v.weight / total;
      const observed = (counts.get(v.label) ?? 0) / ids.length;
      expect(Math.abs(observed - expected), `${v.label}: ${observed} against ${expected}`).toBeLessThan(tolerance(expected, ids.length));
    }
  });

  it('spreads points evenly over [0, 1): ten equal bins of 10,000 ids each hold a tenth', () => {
    const ids = seededIds(10_000, 'uniform');
    const bins = new Array<number>(10).fill(0);
    for (const id of ids) bins[Math.floor(uniformPoint(id) * 10)]!++;
    for (const n of bins) expect(Math.abs(n / ids.length - 0.1)).toBeLessThan(tolerance(0.1, ids.length));
  });

  it('assigns only active variants, or the declared winner alone', () => {
    const ids = seededIds(200, 'statuses');
    const withRemoved = [variant('A', 1, 'removed'), variant('B'), variant('C', 1, 'stopped')];
    expect(new Set(ids.map((id) => chooseVariant(id, STEP, withRemoved)!.label))).toEqual(new Set(['B']));
    const decided = [variant('A', 1, 'lost'), variant('B', 1, 'winner'), variant('C', 1, 'lost')];
    expect(assignable(decided).map((v) => v.label)).toEqual(['B']);
    expect(chooseVariant(ids[0]!, STEP, [variant('A', 1, 'removed')])).toBeNull();
  });

  it('moves an enrolment off a removed variant to the others by weight, and keeps every other enrolment where it was', () => {
    const before = [variant('A', 2), variant('B', 1), variant('C', 1)];
    const after = [variant('A', 2, 'removed'), variant('B', 1), variant('C', 1)];
    const ids = seededIds(1000, 'removal');
    const wasA = ids.filter((id) => chooseVariant(id, STEP, before)!.label === 'A');
    const moved = shares(wasA, after, 'variant-A');
    expect(Math.abs((moved.get('B') ?? 0) / wasA.length - 0.5)).toBeLessThan(tolerance(0.5, wasA.length));
    // What a send does with an email it finds on the removed variant is the same move.
    for (const id of wasA) {
      expect(variantForEnrolment(id, { id: STEP, subject: '', body: '', variants: after, assignedVariantId: 'variant-A' }).variant).toEqual(
        chooseVariant(id, STEP, after, 'variant-A'),
      );
    }
    // An enrolment that stays assigned keeps its variant (the stored assignment stands).
    for (const id of ids.filter((id) => !wasA.includes(id))) {
      const assigned = chooseVariant(id, STEP, before)!;
      expect(variantForEnrolment(id, { id: STEP, subject: '', body: '', variants: after, assignedVariantId: assigned.id })).toEqual({
        variant: after.find((v) => v.id === assigned.id),
        store: null,
      });
    }
  });
});

describe('what an enrolment gets of a step', () => {
  const step = (variants: AssignableVariant[], assignedVariantId: string | null = null) => ({
    id: STEP,
    subject: 'Own subject',
    body: 'Own body',
    variants,
    assignedVariantId,
  });

  it('is the step itself when it has no variants: nothing to store', () => {
    expect(variantForEnrolment('e-1', step([]))).toEqual({ variant: null, store: null });
  });

  it('is a first choice, to be stored, when none was assigned yet', () => {
    const variants = [variant('A'), variant('B')];
    expect(variantForEnrolment('e-1', step(variants))).toEqual({ variant: chooseVariant('e-1', STEP, variants), store: 'first' });
  });

  it('is the stored one even when weights changed since (an assignment is never recomputed)', () => {
    const variants = [variant('A', 1), variant('B', 100)];
    expect(variantForEnrolment('e-1', step(variants, 'variant-A'))).toEqual({ variant: variants[0], store: null });
  });

  it('is a move, to be stored, when the stored variant stopped being assigned', () => {
    const variants = [variant('A', 1, 'stopped'), variant('B'), variant('C')];
    const { variant: moved, store } = variantForEnrolment('e-1', step(variants, 'variant-A'));
    expect(store).toBe('move');
    expect(moved).toEqual(chooseVariant('e-1', STEP, variants, 'variant-A'));
    expect(['B', 'C']).toContain(moved!.label);
  });
});

describe('the holdout', () => {
  it('holds out none at 0 % and the stated share otherwise, the same enrolments every time', () => {
    const ids = seededIds(2000, 'holdout');
    expect(ids.filter((id) => inHoldout(id, 0))).toHaveLength(0);
    for (const percent of [10, 25, 50]) {
      const held = ids.filter((id) => inHoldout(id, percent));
      expect(Math.abs(held.length / ids.length - percent / 100)).toBeLessThan(tolerance(percent / 100, ids.length));
      expect(ids.filter((id) => inHoldout(id, percent))).toEqual(held);
    }
  });

  it('is decided apart from any variant choice (a held-out enrolment is on any variant as often as another)', () => {
    const ids = seededIds(2000, 'independent');
    const held = ids.filter((id) => inHoldout(id, 50));
    const onA = held.filter((id) => chooseVariant(id, STEP, [variant('A'), variant('B')])!.label === 'A');
    expect(Math.abs(onA.length / held.length - 0.5)).toBeLessThan(tolerance(0.5, held.length));
  });
});

describe('labels', () => {
  it('go A to E in order of creation (a removed variant keeps its label: it stays in the record)', () => {
    expect(nextVariantLabel([])).toBe('A');
    expect(nextVariantLabel(['A', 'B'])).toBe('C');
    expect(nextVariantLabel(['A', 'B', 'C', 'D', 'E'])).toBeNull();
  });
});
