import { describe, expect, it } from 'vitest';
import {
  additionalSendsForDecision,
  compareVariants,
  DECISION_THRESHOLD,
  posteriorOf,
  probabilityBest,
  probabilityBestOf,
  type BetaPosterior,
  type VariantCounts,
} from '../../domain/experiment-stats.js';

// The statistics of an experiment (issue 20): reply rates as Beta posteriors, the probability that
// each variant is best, credible intervals, and how many more sends a decision needs. The figures
// are checked against what is computed here another way: a closed form for two Betas with integer
// parameters, a seeded Monte Carlo, and quantiles from SciPy.

const A: VariantCounts = { sent: 200, replies: 20 };
const B: VariantCounts = { sent: 200, replies: 35 };

// ---- independent checks, written here and sharing nothing with the module ----

/** ln Γ(x), Lanczos (g = 7, 9 terms): about 15 significant digits for x ≥ 0.5. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const y = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < 9; i++) sum += c[i]! / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}
const lnBeta = (a: number, b: number) => lnGamma(a) + lnGamma(b) - lnGamma(a + b);

/**
 * P(X > Y) for X ~ Beta(a1, b1), Y ~ Beta(a2, b2) with a1 a whole number (Evan Miller, "Formulas
 * for Bayesian A/B testing"): Σ_{i<a1} B(a2 + i, b1 + b2) / ((b1 + i) B(1 + i, b1) B(a2, b2)).
 */
function closedFormGreater(x: BetaPosterior, y: BetaPosterior): number {
  let total = 0;
  for (let i = 0; i < x.alpha; i++) {
    total += Math.exp(lnBeta(y.alpha + i, x.beta + y.beta) - Math.log(x.beta + i) - lnBeta(1 + i, x.beta) - lnBeta(y.alpha, y.beta));
  }
  return total;
}

/** mulberry32: a small seeded PRNG, so the Monte Carlo figure is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Beta sampler from two gamma draws (Marsaglia–Tsang, shape ≥ 1; normals by Box–Muller). */
function betaSampler(random: () => number): (alpha: number, beta: number) => number {
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const gamma = (shape: number) => {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - random();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  return (alpha, beta) => {
    const x = gamma(alpha);
    return x / (x + gamma(beta));
  };
}

/** The share of `draws` joint draws in which variant `of` has the highest rate. */
function monteCarloBest(posteriors: BetaPosterior[], of: number, draws: number, seed: number): number {
  const sample = betaSampler(mulberry32(seed));
  let wins = 0;
  for (let n = 0; n < draws; n++) {
    const rates = posteriors.map((p) => sample(p.alpha, p.beta));
    if (rates.every((r, i) => i === of || r < rates[of]!)) wins++;
  }
  return wins / draws;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// ---- specifications ----

describe('two variants with 20/200 and 35/200 replies (the worked example)', () => {
  it('the posteriors are Beta(21, 181) and Beta(36, 166): the uniform prior plus the counts', () => {
    expect(posteriorOf(A)).toEqual({ alpha: 21, beta: 181 });
    expect(posteriorOf(B)).toEqual({ alpha: 36, beta: 166 });
  });

  it('P(B best) agrees with the closed form for two Betas with integer parameters within 1e-6', () => {
    const [pA, pB] = probabilityBest([A, B]);
    const exact = closedFormGreater(posteriorOf(B), posteriorOf(A));
    console.log(`worked example: P(B best) = ${pB!.toFixed(6)} (closed form ${exact.toFixed(6)}), P(A best) = ${pA!.toFixed(6)}`);
    expect(Math.abs(pB! - exact)).toBeLessThan(1e-6);
    expect(Math.abs(pA! - (1 - exact))).toBeLessThan(1e-6);
  });

  it('P(B best) agrees with a seeded Monte Carlo of 200,000 draws within 0.005', () => {
    const [, pB] = probabilityBest([A, B]);
    const sampled = monteCarloBest([posteriorOf(A), posteriorOf(B)], 1, 200_000, 20);
    console.log(`worked example: Monte Carlo P(B best) = ${sampled.toFixed(4)} over 200,000 draws`);
    expect(Math.abs(pB! - sampled)).toBeLessThan(0.005);
  });

  it('the 95 % credible intervals are the 2.5 % and 97.5 % quantiles of each posterior, to 4 decimals', () => {
    // scipy.stats.beta.ppf([0.025, 0.975], 21, 181) and (36, 166), SciPy 1.17.
    const [a, b] = compareVariants([A, B]).variants;
    console.log(
      `worked example: A rate ${a!.meanRate.toFixed(4)} [${a!.credibleInterval.lower.toFixed(4)}, ${a!.credibleInterval.upper.toFixed(4)}],` +
        ` B rate ${b!.meanRate.toFixed(4)} [${b!.credibleInterval.lower.toFixed(4)}, ${b!.credibleInterval.upper.toFixed(4)}]`,
    );
    expect(a!.credibleInterval.lower).toBeCloseTo(0.06584586, 4);
    expect(a!.credibleInterval.upper).toBeCloseTo(0.14948653, 4);
    expect(b!.credibleInterval.lower).toBeCloseTo(0.1287078, 4);
    expect(b!.credibleInterval.upper).toBeCloseTo(0.23375845, 4);
  });

  it('the probabilities sum to 1 within 1e-6', () => {
    expect(Math.abs(sum(probabilityBest([A, B])) - 1)).toBeLessThan(1e-6);
  });

  it('B leads and is decided (P ≥ 95 %): no more sends are needed', () => {
    const stats = compareVariants([A, B]);
    expect(stats.leader).toBe(1);
    expect(stats.decided).toBe(true);
    expect(stats.additionalSendsPerVariant).toBe(0);
  });
});

describe('variants with the same counts', () => {
  it('two variants have equal probabilities of being best, 1/2 each', () => {
    const [p, q] = probabilityBest([A, A]);
    expect(Math.abs(p! - q!)).toBeLessThan(1e-12);
    expect(Math.abs(p! - 0.5)).toBeLessThan(1e-8);
  });

  it('five variants, whatever their size and even with no sends at all, have 1/5 each', () => {
    for (const counts of [A, { sent: 0, replies: 0 }, { sent: 100_000, replies: 3_100 }]) {
      const p = probabilityBest([counts, counts, counts, counts, counts]);
      for (const x of p) expect(Math.abs(x - p[0]!)).toBeLessThan(1e-12);
      for (const x of p) expect(Math.abs(x - 0.2)).toBeLessThan(1e-8);
    }
  });

  it('swapping two variants swaps their probabilities', () => {
    const counts = [A, B, { sent: 150, replies: 25 }];
    const [a, b, c] = probabilityBest(counts);
    const [b2, a2, c2] = probabilityBest([B, A, counts[2]!]);
    expect(Math.abs(a! - a2!)).toBeLessThan(1e-12);
    expect(Math.abs(b! - b2!)).toBeLessThan(1e-12);
    expect(Math.abs(c! - c2!)).toBeLessThan(1e-12);
  });
});

describe('variants of very different sizes', () => {
  it('a wide posterior (1/10) against a peaked one (10,000/100,000) agrees with the closed form and Monte Carlo', () => {
    const wide = posteriorOf({ sent: 10, replies: 1 });
    const peaked = posteriorOf({ sent: 100_000, replies: 10_000 });
    const [pWide, pPeaked] = probabilityBestOf([wide, peaked]);
    expect(Math.abs(pWide! - closedFormGreater(wide, peaked))).toBeLessThan(1e-6);
    expect(Math.abs(pWide! - monteCarloBest([wide, peaked], 0, 200_000, 7))).toBeLessThan(0.005);
    expect(Math.abs(pWide! + pPeaked! - 1)).toBeLessThan(1e-6);
  });

  it('three variants of 3, 1,000 and 100,000 sends agree with Monte Carlo and sum to 1', () => {
    const counts = [
      { sent: 3, replies: 1 },
      { sent: 1_000, replies: 190 },
      { sent: 100_000, replies: 20_300 },
    ];
    const exact = probabilityBest(counts);
    expect(Math.abs(sum(exact) - 1)).toBeLessThan(1e-6);
    const posteriors = counts.map(posteriorOf);
    for (const i of [0, 1, 2]) expect(Math.abs(exact[i]! - monteCarloBest(posteriors, i, 200_000, 11 + i))).toBeLessThan(0.005);
  });
});

describe('five variants with 100,000 sends each', () => {
  const rates = [0.1, 0.1005, 0.101, 0.1015, 0.1025];
  const counts = rates.map((r) => ({ sent: 100_000, replies: Math.round(r * 100_000) }));

  it('give probabilities that sum to 1 within 1e-6, in the order of the rates', () => {
    const p = probabilityBest(counts);
    expect(Math.abs(sum(p) - 1)).toBeLessThan(1e-6);
    for (let i = 1; i < p.length; i++) expect(p[i]!).toBeGreaterThan(p[i - 1]!);
  });

  it('agree with Monte Carlo for the leader within 0.005', () => {
    const p = probabilityBest(counts);
    expect(Math.abs(p[4]! - monteCarloBest(counts.map(posteriorOf), 4, 200_000, 5))).toBeLessThan(0.005);
  });

  it('give the full comparison, with a figure of more sends', () => {
    const stats = compareVariants(counts);
    expect(stats.leader).toBe(4);
    expect(stats.decided).toBe(false);
    expect(stats.additionalSendsPerVariant).toBeGreaterThan(0);
  });
});

describe('more sends needed for a decision', () => {
  it('fewer as the gap grows (20/200 against 22, 25 and 28/200)', () => {
    const needed = [22, 25, 28].map((replies) => additionalSendsForDecision([A, { sent: 200, replies }]));
    console.log(`more sends per variant, 20/200 against 22, 25, 28/200: ${needed.join(', ')}`);
    expect(needed.every((n) => n !== null && n > 0)).toBe(true);
    expect(needed[1]!).toBeLessThan(needed[0]!);
    expect(needed[2]!).toBeLessThan(needed[1]!);
  });

  it('is the point where the projected leader reaches 95 %, and not well before', () => {
    const counts = [A, { sent: 200, replies: 25 }, { sent: 200, replies: 18 }];
    const m = additionalSendsForDecision(counts)!;
    const projected = (sends: number) =>
      counts.map(posteriorOf).map(({ alpha, beta }) => {
        const mean = alpha / (alpha + beta);
        return { alpha: alpha + sends * mean, beta: beta + sends * (1 - mean) };
      });
    expect(probabilityBestOf(projected(m))[1]!).toBeGreaterThanOrEqual(DECISION_THRESHOLD);
    expect(probabilityBestOf(projected(Math.floor(m / 1.02)))[1]!).toBeLessThan(DECISION_THRESHOLD);
  });

  it('is null for identical rates, which never separate', () => {
    expect(additionalSendsForDecision([A, A])).toBeNull();
    expect(additionalSendsForDecision([B, A, B])).toBeNull();
    expect(
      additionalSendsForDecision([
        { sent: 0, replies: 0 },
        { sent: 0, replies: 0 },
      ]),
    ).toBeNull();
    expect(compareVariants([A, A]).additionalSendsPerVariant).toBeNull();
  });

  it('is null when the decision is further away than the cap', () => {
    const counts = [A, { sent: 200, replies: 21 }];
    expect(additionalSendsForDecision(counts)).toBeGreaterThan(10_000);
    expect(additionalSendsForDecision(counts, { maxAdditional: 10_000 })).toBeNull();
  });

  it('is 0 once the leader is at 95 %', () => {
    expect(additionalSendsForDecision([A, B])).toBe(0);
  });
});

describe('invalid input', () => {
  const bad: [string, unknown, RegExp][] = [
    ['one variant', [A], /2–5 variants, not 1/],
    ['six variants', [A, A, A, A, A, A], /2–5 variants, not 6/],
    ['no list', undefined, /list of variants/],
    ['more replies than sends', [A, { sent: 10, replies: 11 }], /variant 1: replies \(11\) cannot exceed sent \(10\)/],
    ['negative sends', [{ sent: -1, replies: 0 }, A], /variant 0: sent must be a whole number/],
    ['fractional replies', [A, { sent: 10, replies: 1.5 }], /variant 1: replies must be a whole number/],
    ['NaN', [A, { sent: Number.NaN, replies: 0 }], /variant 1: sent must be a whole number/],
    ['a string', [A, { sent: '10', replies: 1 }], /variant 1: sent must be a whole number/],
    ['a missing variant', [A, null], /variant 1: sent must be a whole number/],
  ];
  for (const [name, counts, message] of bad) {
    it(`${name} throws a RangeError saying so, from every entry point`, () => {
      expect(() => probabilityBest(counts as any)).toThrow(RangeError);
      expect(() => probabilityBest(counts as any)).toThrow(message);
      expect(() => compareVariants(counts as any)).toThrow(message);
      expect(() => additionalSendsForDecision(counts as any)).toThrow(message);
    });
  }

  it('posteriors below the prior (a parameter < 1) throw a RangeError', () => {
    expect(() => probabilityBestOf([{ alpha: 0.5, beta: 3 }, posteriorOf(A)])).toThrow(RangeError);
  });
});
