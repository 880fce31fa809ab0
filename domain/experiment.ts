import { createHash } from 'node:crypto';
import type { VariantStatus } from '../db/schema.js';
import { MAX_VARIANTS, probabilityBest } from './experiment-stats.js';

/**
 * The rules of an experiment on a step (docs/concepts.md, "Experiments"): which variant each
 * enrolment gets, who is in the holdout, and when a guardrail stops a variant. Pure: the
 * activities and the API call them with what they read.
 */

/** Labels in order of creation; a step never has more than MAX_VARIANTS, removed ones included. */
export const VARIANT_LABELS = ['A', 'B', 'C', 'D', 'E'] as const;
/** A variant's weight: its relative share of new assignments. */
export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 100;
/** At most half the enrolments held out: the follow-ups are what the user came to send. */
export const MAX_HOLDOUT_PERCENT = 50;

export interface AssignableVariant {
  id: string;
  label: string;
  weight: number;
  status: VariantStatus;
}

/** Variants in label order (A, B, C…): the order shares of [0, 1) are laid out in. */
export const byLabel = (a: { label: string }, b: { label: string }) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);

/** The variants new and moved emails may go as: active ones, or the declared winner alone. */
export function assignable<V extends AssignableVariant>(variants: readonly V[]): V[] {
  const winner = variants.find((v) => v.status === 'winner');
  if (winner) return [winner];
  return variants.filter((v) => v.status === 'active').sort(byLabel);
}

/**
 * A point in [0, 1) fixed by the key: the first 52 bits of its SHA-256. Every enrolment id is a
 * random UUID, so these points are spread evenly, and the same key always gives the same point
 * (a replay, a retry or a second worker choose alike).
 */
export function uniformPoint(key: string): number {
  const digest = createHash('sha256').update(key).digest();
  // 52 bits: every value is exactly representable as a double.
  const high = digest.readUInt32BE(0) >>> 12; // 20 bits
  const low = digest.readUInt32BE(4); // 32 bits
  return (high * 2 ** 32 + low) / 2 ** 52;
}

/**
 * The variant of a step an enrolment gets: its point (enrolment and step) falls in one variant's
 * share of [0, 1), shares in proportion to the weights, variants in label order.
 *
 * Moving an email off a variant (removed, stopped, beaten) asks again with the variants left and
 * the variant it leaves (`movedFrom`) in the key: with the first point, every enrolment of the
 * variant left would land on the same neighbour (their points all lie in its old share), not
 * on the variants left by weight.
 */
export function chooseVariant<V extends AssignableVariant>(
  enrolmentId: string,
  stepId: string,
  variants: readonly V[],
  movedFrom?: string,
): V | null {
  const candidates = assignable(variants);
  if (candidates.length === 0) return null;
  const total = candidates.reduce((sum, v) => sum + v.weight, 0);
  const key = movedFrom ? `variant:${enrolmentId}:${stepId}:moved-from:${movedFrom}` : `variant:${enrolmentId}:${stepId}`;
  const point = uniformPoint(key) * total;
  let edge = 0;
  for (const variant of candidates) {
    edge += variant.weight;
    if (point < edge) return variant;
  }
  return candidates[candidates.length - 1]!;
}

export interface StepWithVariants<V extends AssignableVariant> {
  id: string;
  subject: string;
  body: string;
  variants: readonly V[];
  /** The variant this enrolment was assigned, if it was. */
  assignedVariantId: string | null;
}

export interface VariantChoice<V> {
  /** Null for a step without variants (or none left to assign): its own subject and body go. */
  variant: V | null;
  /** The assignment to write: a first one, or a move off a variant no longer assigned. */
  store: 'first' | 'move' | null;
}

/**
 * What an enrolment gets of a step: the variant it was assigned while that may still be sent,
 * else the one chosen now (stored, so it is the same on every later plan and send).
 */
export function variantForEnrolment<V extends AssignableVariant>(enrolmentId: string, step: StepWithVariants<V>): VariantChoice<V> {
  if (step.variants.length === 0) return { variant: null, store: null };
  const candidates = assignable(step.variants);
  const assigned = step.variants.find((v) => v.id === step.assignedVariantId);
  if (assigned && candidates.includes(assigned)) return { variant: assigned, store: null };
  const chosen = chooseVariant(enrolmentId, step.id, step.variants, assigned?.id);
  if (!chosen) return { variant: null, store: null };
  return { variant: chosen, store: assigned ? 'move' : 'first' };
}

/** Whether an enrolment is in its sequence's holdout: decided once, at its first plan. */
export function inHoldout(enrolmentId: string, holdoutPercent: number): boolean {
  if (holdoutPercent <= 0) return false;
  return uniformPoint(`holdout:${enrolmentId}`) * 100 < holdoutPercent;
}

/** The label a new variant of the step takes: the first never used, or null when all are. */
export function nextVariantLabel(usedLabels: readonly string[]): string | null {
  return VARIANT_LABELS.find((label) => !usedLabels.includes(label)) ?? null;
}

/** A step keeps at most MAX_VARIANTS, removed ones included (their emails stay in its record). */
export const canAddVariant = (existing: number) => existing < MAX_VARIANTS;

// ── Guardrails ──

/**
 * When a variant is clearly worse for the lead than the rest of its step, judged on what leads
 * did after its emails. "Clearly" is three things at once: enough of its emails went (minSent),
 * its rate is at least `ratio` times the rest's pooled rate (a margin that matters, not a
 * rounding), and the posterior probability that its rate is the higher of the two reaches
 * `probability` (Beta-Binomial, as the comparison of replies). At least `minEvents` unsubscribes
 * or complaints are needed too: one complaint in a thin sample proves nothing.
 */
export interface GuardrailThreshold {
  minSent: number;
  minEvents: number;
  ratio: number;
  probability: number;
}
export const GUARDRAILS = {
  unsubscribed: { minSent: 50, minEvents: 3, ratio: 2, probability: 0.95 },
  complained: { minSent: 50, minEvents: 2, ratio: 2, probability: 0.95 },
} as const satisfies Record<string, GuardrailThreshold>;
export type GuardrailMetric = keyof typeof GUARDRAILS;

export interface GuardrailCounts {
  id: string;
  label: string;
  status: VariantStatus;
  sent: number;
  unsubscribed: number;
  complained: number;
}

export interface GuardrailVerdict {
  variantId: string;
  metric: GuardrailMetric;
  /** In words, for the timeline, the notification and the API. */
  reason: string;
}

const percent = (n: number) => `${(n * 100).toFixed(n < 0.01 ? 2 : 1)} %`;

/**
 * The variants a guardrail stops now: each assignable variant compared with every other variant
 * of the step pooled (stopped ones included: their emails went). The last assignable variant is
 * never stopped (there would be nothing left to send), nor a declared winner (the user chose it).
 */
export function guardrailVerdicts(
  variants: readonly GuardrailCounts[],
  thresholds: Record<GuardrailMetric, GuardrailThreshold> = GUARDRAILS,
): GuardrailVerdict[] {
  const verdicts: GuardrailVerdict[] = [];
  let left = variants.filter((v) => v.status === 'active').length;
  for (const variant of variants) {
    if (variant.status !== 'active' || left <= 1) continue;
    for (const metric of Object.keys(thresholds) as GuardrailMetric[]) {
      const t = thresholds[metric];
      const rest = variants.filter((v) => v.id !== variant.id);
      const restSent = rest.reduce((sum, v) => sum + v.sent, 0);
      const restEvents = rest.reduce((sum, v) => sum + v[metric], 0);
      const events = variant[metric];
      if (variant.sent < t.minSent || restSent < t.minSent || events < t.minEvents) continue;
      const rate = events / variant.sent;
      const restRate = restEvents / restSent;
      if (rate < t.ratio * restRate) continue;
      const [worse] = probabilityBest([
        { sent: variant.sent, replies: events },
        { sent: restSent, replies: restEvents },
      ]);
      if (worse! < t.probability) continue;
      const what = metric === 'unsubscribed' ? 'unsubscribe' : 'complaint';
      verdicts.push({
        variantId: variant.id,
        metric,
        reason:
          `stopped by the ${what} guardrail: ${events} of ${variant.sent} leads (${percent(rate)}) against ` +
          `${restEvents} of ${restSent} (${percent(restRate)}) for the other variants; ` +
          `${(worse! * 100).toFixed(1)} % likely to be worse`,
      });
      left--;
      break;
    }
  }
  return verdicts;
}
