import betaCdf from '@stdlib/stats-base-dists-beta-cdf';
import betaLogpdf from '@stdlib/stats-base-dists-beta-logpdf';
import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';

// The statistics of an experiment (issue 20): the variants of a step, judged on reply rate. Pure:
// counts in, figures out; no I/O, no clock, no randomness, so the same counts always give the
// same figures (a page reloaded, a webhook retried, a test rerun). The special functions (Beta
// CDF, log-density, quantile) are stdlib-js's; what is built here is the model, the integral and
// the projection, each said below with its reasons and its limits.

/** How many variants a step may have (issue 20): fewer is no comparison, more is too thin a split. */
export const MIN_VARIANTS = 2;
export const MAX_VARIANTS = 5;

/**
 * The prior of every variant's reply rate: Beta(1, 1), the uniform distribution on [0, 1]. It says
 * "any rate is as likely as any other" and weighs as much as two sends (one reply, one not), so
 * after a few hundred sends the data decide and the prior does not. A prior centred on typical
 * reply rates (a few per cent) would settle small samples sooner, but it would be our opinion in
 * the user's figures, and it would have to be the same for every variant anyway: the uniform one
 * is the one that needs no defending. It also keeps both parameters of every posterior ≥ 1, so
 * each density is finite on the whole of [0, 1], which the integral below relies on.
 */
export const PRIOR = { alpha: 1, beta: 1 } as const;

/** The credible interval's probability: 95 %, equal-tailed (2.5 % of the posterior on either side). */
export const CREDIBLE_LEVEL = 0.95;

/** A decision: the leader's probability of being best reaches this. */
export const DECISION_THRESHOLD = 0.95;

/** Beyond this many more sends per variant, no decision is said to be in sight (null). */
export const MAX_ADDITIONAL_SENDS = 1_000_000;

/** What has happened to one variant: emails sent, and real replies among them (not auto-replies). */
export interface VariantCounts {
  sent: number;
  replies: number;
}

/** A Beta distribution: the posterior of a variant's reply rate. */
export interface BetaPosterior {
  alpha: number;
  beta: number;
}

export interface VariantStats {
  sent: number;
  replies: number;
  posterior: BetaPosterior;
  /** The posterior mean of the reply rate, (1 + replies) / (2 + sent): the rate the figures assume. */
  meanRate: number;
  /** The 95 % equal-tailed credible interval of the reply rate. */
  credibleInterval: { lower: number; upper: number };
  /** The probability, given the data and the prior, that this variant's rate is the highest. */
  probabilityBest: number;
}

export interface ExperimentStats {
  variants: VariantStats[];
  /** The index of the variant most likely to be best. */
  leader: number;
  /** Whether the leader's probability of being best has reached DECISION_THRESHOLD. */
  decided: boolean;
  /**
   * additionalSendsForDecision: 0 once decided, null when no decision is in sight. The projection
   * follows the highest mean rate, which is the leader but for near-ties of very unequal samples.
   */
  additionalSendsPerVariant: number | null;
}

/**
 * Throws a RangeError unless the counts are 2–5 variants, each with whole numbers
 * 0 ≤ replies ≤ sent. The figures of anything else would be meaningless, not merely imprecise, so
 * they are refused rather than clamped.
 */
export function validateCounts(counts: readonly VariantCounts[]): void {
  if (!Array.isArray(counts)) throw new RangeError('an experiment is a list of variants');
  if (counts.length < MIN_VARIANTS || counts.length > MAX_VARIANTS) {
    throw new RangeError(`an experiment has ${MIN_VARIANTS}–${MAX_VARIANTS} variants, not ${counts.length}`);
  }
  counts.forEach((c, i) => {
    const { sent, replies } = c ?? ({} as Partial<VariantCounts>);
    if (!Number.isSafeInteger(sent) || (sent as number) < 0) {
      throw new RangeError(`variant ${i}: sent must be a whole number ≥ 0, not ${String(sent)}`);
    }
    if (!Number.isSafeInteger(replies) || (replies as number) < 0) {
      throw new RangeError(`variant ${i}: replies must be a whole number ≥ 0, not ${String(replies)}`);
    }
    if ((replies as number) > (sent as number)) {
      throw new RangeError(`variant ${i}: replies (${replies}) cannot exceed sent (${sent})`);
    }
  });
}

/** The posterior of a variant's reply rate: Beta(1 + replies, 1 + sent − replies) (conjugacy). */
export function posteriorOf({ sent, replies }: VariantCounts): BetaPosterior {
  return { alpha: PRIOR.alpha + replies, beta: PRIOR.beta + sent - replies };
}

/** The equal-tailed credible interval of a Beta posterior, from its quantiles. */
export function credibleInterval({ alpha, beta }: BetaPosterior, level = CREDIBLE_LEVEL): { lower: number; upper: number } {
  const tail = (1 - level) / 2;
  return { lower: betaQuantile(tail, alpha, beta), upper: betaQuantile(1 - tail, alpha, beta) };
}

/** For each variant, the probability that its reply rate is the highest. They sum to 1. */
export function probabilityBest(counts: readonly VariantCounts[]): number[] {
  validateCounts(counts);
  return integrateBest(counts.map(posteriorOf));
}

// ---------------------------------------------------------------------------------------------
// P(i best) = ∫₀¹ f_i(x) Π_{j≠i} F_j(x) dx, with f the posterior densities and F their CDFs: the
// probability that rate i is x and every other rate is below it. Done by quadrature rather than by
// sampling, so the figure is the same on every call and its error is bounded, not random.
//
// The difficulty is scale: a posterior after 100,000 sends is about 0.001 wide, one after 10 sends
// about 0.3, and a single grid fine enough for the first is absurdly fine for the second. So each
// variant brings its own breakpoints, spaced in its own standard deviations across its own
// window (the interval outside which it has less than TAIL of its mass), and each panel between
// consecutive breakpoints gets a fixed Gauss–Legendre rule. Every function in the integrand then
// changes by a bounded amount within a panel, whichever variant it belongs to; with all parameters
// ≥ 1 (PRIOR) the integrand is smooth, and for small counts it is a polynomial, which
// Gauss–Legendre integrates exactly up to degree 2·NODES − 1. The error is checked by the tests:
// the probabilities sum to 1 within 1e-6 (an identity: their integrands add up to the derivative
// of Π F_j), and agree with a closed form and with Monte Carlo.
//
// The cost is bounded too: at most (window / STEP) + 2 panels per variant whatever the counts
// (a window is about 14 standard deviations for a large sample, more for a skewed small one),
// NODES points each, one CDF and one density per variant per point, and nothing at points where
// a variant is outside its window (its CDF is 0 or 1 there, within TAIL). Five variants with
// 100,000 sends each take 1–2 ms here (on a busy 2-core machine); the probabilities sum to 1
// within about 1e-10.
// ---------------------------------------------------------------------------------------------

/** Mass of a posterior left outside its window, each side: far below any figure shown. */
const TAIL = 1e-12;
/** Breakpoints every STEP standard deviations of each variant. */
const STEP = 3;
/** Breakpoints closer than this many of the smaller of their variants' standard deviations merge. */
const MERGE = 1;
/** Gauss–Legendre points per panel. */
const NODES = 12;

const GAUSS_LEGENDRE = gaussLegendre(NODES);

/** Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1] (Newton on Legendre's P_n). */
function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let derivative = 1;
    for (let iteration = 0; iteration < 100; iteration++) {
      let previous = 1;
      let current = x;
      for (let k = 2; k <= n; k++) {
        const next = ((2 * k - 1) * x * current - (k - 1) * previous) / k;
        previous = current;
        current = next;
      }
      derivative = (n * (x * current - previous)) / (x * x - 1);
      const step = current / derivative;
      x -= step;
      if (Math.abs(step) < 1e-15) break;
    }
    nodes.push(x);
    weights.push(2 / ((1 - x * x) * derivative * derivative));
  }
  return { nodes, weights };
}

interface Prepared {
  sd: number;
  mean: number;
  /** Below lo the CDF is < TAIL, above hi it is > 1 − TAIL. */
  lo: number;
  hi: number;
  logpdf: (x: number) => number;
  cdf: (x: number) => number;
}

function prepare({ alpha, beta }: BetaPosterior): Prepared {
  const n = alpha + beta;
  const mean = alpha / n;
  const sd = Math.sqrt((alpha * beta) / (n * n * (n + 1)));
  const lo = betaQuantile(TAIL, alpha, beta);
  const hi = betaQuantile(1 - TAIL, alpha, beta);
  return {
    mean,
    sd,
    lo: Number.isFinite(lo) ? Math.max(0, lo) : 0,
    hi: Number.isFinite(hi) ? Math.min(1, hi) : 1,
    logpdf: betaLogpdf.factory(alpha, beta),
    cdf: betaCdf.factory(alpha, beta),
  };
}

/** The panels' edges over [from, to]: each variant's window edges and its points every STEP sd. */
function breakpoints(prepared: readonly Prepared[], from: number, to: number): number[] {
  const points: { x: number; sd: number }[] = [];
  const minSd = Math.min(...prepared.map((p) => p.sd));
  points.push({ x: from, sd: minSd }, { x: to, sd: minSd });
  for (const p of prepared) {
    const lo = Math.max(p.lo, from);
    const hi = Math.min(p.hi, to);
    if (lo >= hi) continue;
    points.push({ x: lo, sd: p.sd }, { x: hi, sd: p.sd });
    const width = STEP * p.sd;
    for (let t = Math.ceil((lo - p.mean) / width); p.mean + t * width < hi; t++) points.push({ x: p.mean + t * width, sd: p.sd });
  }
  points.sort((a, b) => a.x - b.x);
  const kept: { x: number; sd: number }[] = [];
  for (const point of points) {
    const last = kept[kept.length - 1];
    if (last && point.x - last.x < MERGE * Math.min(last.sd, point.sd)) continue;
    kept.push(point);
  }
  // The domain's far edge stays where it is, even if a point just before it merged into it.
  const last = kept[kept.length - 1]!;
  if (last.x < to) kept[kept.length - 1] = { x: to, sd: last.sd };
  return kept.map((p) => p.x);
}

/**
 * For each posterior, the probability that its rate is the highest: probabilityBest for
 * posteriors that are not counts (the projection below, the tests).
 */
export function probabilityBestOf(posteriors: readonly BetaPosterior[]): number[] {
  validatePosteriors(posteriors);
  return integrateBest(posteriors);
}

/** Posteriors this module can integrate: 2–5 of them, both parameters finite and ≥ 1 (see PRIOR). */
function validatePosteriors(posteriors: readonly BetaPosterior[]): void {
  if (!Array.isArray(posteriors) || posteriors.length < MIN_VARIANTS || posteriors.length > MAX_VARIANTS) {
    throw new RangeError(`an experiment has ${MIN_VARIANTS}–${MAX_VARIANTS} variants`);
  }
  posteriors.forEach((p, i) => {
    if (!(Number.isFinite(p?.alpha) && Number.isFinite(p?.beta) && p.alpha >= 1 && p.beta >= 1)) {
      throw new RangeError(`variant ${i}: a posterior's parameters are finite and ≥ 1 (the prior is Beta(1, 1))`);
    }
  });
}

/**
 * P(i best) for each i (or only for `only`). Every integrand but one holds the CDF of whichever
 * variant is lowest, so below the second-highest lower window edge all of them are < TAIL: the
 * integral starts there, and ends at the highest upper edge (only's window, for only).
 */
function integrateBest(posteriors: readonly BetaPosterior[], only?: number): number[] {
  const prepared = posteriors.map(prepare);
  const k = prepared.length;
  const lows = prepared.map((p) => p.lo).sort((a, b) => b - a);
  let from = lows[1]!;
  let to = Math.max(...prepared.map((p) => p.hi));
  if (only !== undefined) {
    from = Math.max(from, prepared[only]!.lo);
    to = Math.min(to, prepared[only]!.hi);
  }
  const result = new Array<number>(k).fill(0);
  if (!(from < to)) return result;
  const edges = breakpoints(prepared, from, to);
  const { nodes, weights } = GAUSS_LEGENDRE;
  const cdfs = new Array<number>(k);
  for (let e = 0; e + 1 < edges.length; e++) {
    const half = (edges[e + 1]! - edges[e]!) / 2;
    const middle = (edges[e + 1]! + edges[e]!) / 2;
    for (let n = 0; n < NODES; n++) {
      const x = middle + half * nodes[n]!;
      let zeros = 0;
      for (let j = 0; j < k; j++) {
        const p = prepared[j]!;
        cdfs[j] = x <= p.lo ? 0 : x >= p.hi ? 1 : p.cdf(x);
        if (cdfs[j] === 0) zeros++;
      }
      // Two CDFs at 0: every integrand holds one of them.
      if (zeros >= 2) continue;
      for (let i = 0; i < k; i++) {
        if (only !== undefined && i !== only) continue;
        const p = prepared[i]!;
        if (x <= p.lo || x >= p.hi) continue;
        let others = 1;
        for (let j = 0; j < k; j++) if (j !== i) others *= cdfs[j]!;
        if (others === 0) continue;
        result[i]! += weights[n]! * half * Math.exp(p.logpdf(x)) * others;
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// How many more sends a decision needs.
//
// The question "when will we know?" has no exact answer: it depends on replies not yet received.
// The figure given is a plug-in projection, and should be read as an order of magnitude: suppose
// that from now on every variant replies at exactly its current posterior mean rate, and every
// variant gets m more sends (an even split); then each posterior keeps its mean and narrows, and
// the leader's probability of being best rises towards 1. The figure is the smallest such m at
// which it reaches DECISION_THRESHOLD (95 %), found by a geometric search and then bisection,
// rounded up to within 1 % (a precision the method does not have anyway). That is some 15–25
// integrals of the leader's probability alone: about 20 ms for five variants of 100,000 sends.
//
// What it does not do: it does not average over the futures the current uncertainty allows (the
// true gap may be smaller, and then more sends are needed, or larger, or of the other sign, and
// then the leader changes), so it is not an expected sample size in the decision-theoretic sense,
// and it tends to be optimistic when the gap seen so far is partly luck. It is the honest "if
// things go on as they look now". A tie at the top (equal posterior means, for example equal
// counts) never separates under this assumption: null. So does a gap that would need more than
// MAX_ADDITIONAL_SENDS per variant: a decision that far away is no decision in sight.
// ---------------------------------------------------------------------------------------------

/**
 * Sends per variant still needed before the leader's probability of being best reaches
 * `threshold`, if every variant goes on replying at its current posterior mean rate: 0 when it has
 * already, null when no decision is in sight (a tie at the top, or more than `maxAdditional`).
 */
export function additionalSendsForDecision(
  counts: readonly VariantCounts[],
  { threshold = DECISION_THRESHOLD, maxAdditional = MAX_ADDITIONAL_SENDS }: { threshold?: number; maxAdditional?: number } = {},
): number | null {
  validateCounts(counts);
  if (!(threshold > 0 && threshold < 1)) throw new RangeError(`threshold must be between 0 and 1, not ${threshold}`);
  if (!(Number.isSafeInteger(maxAdditional) && maxAdditional > 0)) {
    throw new RangeError(`maxAdditional must be a whole number > 0, not ${maxAdditional}`);
  }
  const posteriors = counts.map(posteriorOf);
  const now = integrateBest(posteriors);
  if (Math.max(...now) >= threshold) return 0;
  return sendsToDecision(posteriors, threshold, maxAdditional);
}

function sendsToDecision(posteriors: readonly BetaPosterior[], threshold: number, maxAdditional: number): number | null {
  // The leader under the projection is the highest posterior mean: the one whose probability
  // tends to 1 as every posterior narrows around its mean. Means are compared as exact fractions
  // (integer parameters), so a tie is a tie and not a rounding.
  let leader = 0;
  let tied = false;
  for (let i = 1; i < posteriors.length; i++) {
    const a = posteriors[i]!;
    const b = posteriors[leader]!;
    const difference = a.alpha * (b.alpha + b.beta) - b.alpha * (a.alpha + a.beta);
    if (difference > 0) {
      leader = i;
      tied = false;
    } else if (difference === 0) tied = true;
  }
  if (tied) return null;
  const means = posteriors.map((p) => p.alpha / (p.alpha + p.beta));
  const reached = (m: number) => {
    const projected = posteriors.map((p, i) => ({ alpha: p.alpha + m * means[i]!, beta: p.beta + m * (1 - means[i]!) }));
    return integrateBest(projected, leader)[leader]! >= threshold;
  };
  // Geometric search for an m that reaches the threshold, then bisection between the last that
  // did not and the first that did, until they are within 1 % (or one send) of each other.
  let low = 0;
  let high = 1;
  while (!reached(high)) {
    if (high >= maxAdditional) return null;
    low = high;
    high = Math.min(high * 4, maxAdditional);
  }
  while (high - low > 1 && high > low * 1.01) {
    const middle = low === 0 ? Math.floor(high / 2) : Math.round(Math.sqrt(low * high));
    if (middle <= low || middle >= high) break;
    if (reached(middle)) high = middle;
    else low = middle;
  }
  return high;
}

/**
 * Everything the portal shows for an experiment's comparison on reply rate: per variant its
 * posterior, mean rate, 95 % credible interval and probability of being best; the leader, whether
 * it is decided, and how many more sends per variant a decision needs.
 */
export function compareVariants(counts: readonly VariantCounts[]): ExperimentStats {
  validateCounts(counts);
  const posteriors = counts.map(posteriorOf);
  const best = integrateBest(posteriors);
  const variants = counts.map(({ sent, replies }, i) => ({
    sent,
    replies,
    posterior: posteriors[i]!,
    meanRate: posteriors[i]!.alpha / (posteriors[i]!.alpha + posteriors[i]!.beta),
    credibleInterval: credibleInterval(posteriors[i]!),
    probabilityBest: best[i]!,
  }));
  const leader = best.indexOf(Math.max(...best));
  const decided = best[leader]! >= DECISION_THRESHOLD;
  return {
    variants,
    leader,
    decided,
    additionalSendsPerVariant: decided ? 0 : sendsToDecision(posteriors, DECISION_THRESHOLD, MAX_ADDITIONAL_SENDS),
  };
}
