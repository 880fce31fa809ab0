import { describe, expect, it } from 'vitest';
import { GUARDRAILS, guardrailVerdicts, type GuardrailCounts } from '../../domain/experiment.js';
import { probabilityBest } from '../../domain/experiment-stats.js';

// The guardrails of an experiment (domain/experiment.ts): which variants they stop, on what
// leads did after their emails. Each threshold is checked on both sides of its edge.

const variant = (label: string, counts: Partial<GuardrailCounts> = {}): GuardrailCounts => ({
  id: `variant-${label}`,
  label,
  status: 'active',
  sent: 0,
  unsubscribed: 0,
  complained: 0,
  ...counts,
});
const stopped = (variants: GuardrailCounts[]) => guardrailVerdicts(variants).map((v) => v.variantId);

describe('a variant with many unsubscribes', () => {
  const verdicts = guardrailVerdicts([variant('A', { sent: 100, unsubscribed: 1 }), variant('B', { sent: 100, unsubscribed: 10 })]);

  it('is stopped, and only it', () => {
    expect(verdicts.map((v) => v.variantId)).toEqual(['variant-B']);
  });

  it('is stopped by the unsubscribe guardrail', () => {
    expect(verdicts[0]!.metric).toBe('unsubscribed');
  });

  it('is told why in figures: its rate, the others’, and how likely it is to be worse', () => {
    const likely = probabilityBest([
      { sent: 100, replies: 10 },
      { sent: 100, replies: 1 },
    ])[0]!;
    expect(verdicts[0]!.reason).toBe(
      `stopped by the unsubscribe guardrail: 10 of 100 leads (10.0 %) against 1 of 100 (1.0 %) for the other variants; ${(likely * 100).toFixed(1)} % likely to be worse`,
    );
  });
});

describe('a variant with many complaints', () => {
  const verdicts = guardrailVerdicts([variant('A', { sent: 400 }), variant('B', { sent: 100, complained: 2 })]);

  it('is stopped by the complaint guardrail, with two complaints', () => {
    expect(verdicts).toEqual([expect.objectContaining({ variantId: 'variant-B', metric: 'complained' })]);
    expect(verdicts[0]!.reason).toMatch(/^stopped by the complaint guardrail: 2 of 100 leads/);
  });

  it('is not stopped on one complaint, however thin the others’ record', () => {
    expect(stopped([variant('A', { sent: 400 }), variant('B', { sent: 100, complained: 1 })])).toEqual([]);
  });
});

describe('the minimum of emails sent', () => {
  const bad = { unsubscribed: 8 };
  const good = variant('A', { sent: 500, unsubscribed: 5 });

  it(`judges a variant from ${GUARDRAILS.unsubscribed.minSent} emails`, () => {
    expect(stopped([good, variant('B', { sent: 50, ...bad })])).toEqual(['variant-B']);
  });

  it('leaves a variant with one email fewer alone', () => {
    expect(stopped([good, variant('B', { sent: 49, ...bad })])).toEqual([]);
  });

  it('leaves a variant alone while the others together sent fewer', () => {
    expect(stopped([variant('A', { sent: 49 }), variant('B', { sent: 500, unsubscribed: 50 })])).toEqual([]);
  });
});

describe('the minimum of events', () => {
  const rest = variant('A', { sent: 1000 });

  it(`stops a variant at ${GUARDRAILS.unsubscribed.minEvents} unsubscribes`, () => {
    expect(stopped([rest, variant('B', { sent: 100, unsubscribed: 3 })])).toEqual(['variant-B']);
  });

  it('leaves a variant with one fewer alone, even against none at all', () => {
    expect(stopped([rest, variant('B', { sent: 100, unsubscribed: 2 })])).toEqual([]);
  });
});

describe('the ratio to the other variants', () => {
  const rest = variant('A', { sent: 1000, unsubscribed: 50 });

  it('stops a variant at exactly twice the others’ rate', () => {
    expect(stopped([rest, variant('B', { sent: 1000, unsubscribed: 100 })])).toEqual(['variant-B']);
  });

  it('leaves a variant just under twice the others’ rate alone, however certain the difference', () => {
    const [worse] = probabilityBest([
      { sent: 1000, replies: 99 },
      { sent: 1000, replies: 50 },
    ]);
    expect(worse).toBeGreaterThan(0.999);
    expect(stopped([rest, variant('B', { sent: 1000, unsubscribed: 99 })])).toEqual([]);
  });
});

describe('the probability of being worse', () => {
  const rest = variant('A', { sent: 200, unsubscribed: 2 });

  it('stops a variant once it is 95 % likely to be worse (8 of 200 against 2 of 200: 96.9 %)', () => {
    expect(stopped([rest, variant('B', { sent: 200, unsubscribed: 8 })])).toEqual(['variant-B']);
  });

  it('leaves a variant 94.8 % likely to be worse alone (7 of 200), though its rate is 3.5 times the others’', () => {
    expect(stopped([rest, variant('B', { sent: 200, unsubscribed: 7 })])).toEqual([]);
  });
});

describe('the variants left', () => {
  it('never stops the last active variant, however bad', () => {
    expect(
      stopped([variant('A', { sent: 100, unsubscribed: 20 }), variant('B', { sent: 1000, unsubscribed: 1, status: 'stopped' })]),
    ).toEqual([]);
  });

  it('stops every active variant clearly worse than the rest while another is left', () => {
    const verdicts = stopped([
      variant('A', { sent: 1000, unsubscribed: 1 }),
      variant('B', { sent: 200, unsubscribed: 40 }),
      variant('C', { sent: 200, unsubscribed: 40 }),
    ]);
    expect(verdicts).toEqual(['variant-B', 'variant-C']);
  });

  it('keeps the last active variant when every active one is worse than a stopped one', () => {
    const verdicts = stopped([
      variant('A', { sent: 10_000, unsubscribed: 1, status: 'stopped' }),
      variant('B', { sent: 200, unsubscribed: 40 }),
      variant('C', { sent: 200, unsubscribed: 40 }),
    ]);
    expect(verdicts).toEqual(['variant-B']);
  });

  it('never stops a declared winner', () => {
    expect(
      stopped([
        variant('A', { sent: 100, unsubscribed: 20, status: 'winner' }),
        variant('B', { sent: 1000, unsubscribed: 1, status: 'lost' }),
      ]),
    ).toEqual([]);
  });

  it('judges no stopped, removed or lost variant again', () => {
    expect(
      stopped([
        variant('A', { sent: 1000, unsubscribed: 1 }),
        variant('B', { sent: 1000, unsubscribed: 1 }),
        variant('C', { sent: 200, unsubscribed: 40, status: 'removed' }),
        variant('D', { sent: 200, unsubscribed: 40, status: 'stopped' }),
      ]),
    ).toEqual([]);
  });

  it('counts the emails of stopped variants among the others: they went', () => {
    const thin = variant('B', { sent: 30 });
    const bad = variant('A', { sent: 100, unsubscribed: 6 });
    expect(stopped([bad, thin])).toEqual([]);
    expect(stopped([bad, thin, variant('C', { sent: 100, unsubscribed: 1, status: 'stopped' })])).toEqual(['variant-A']);
  });
});

describe('a variant bad on both counts', () => {
  it('gets one verdict, the unsubscribe guardrail’s', () => {
    const verdicts = guardrailVerdicts([variant('A', { sent: 1000 }), variant('B', { sent: 100, unsubscribed: 10, complained: 5 })]);
    expect(verdicts.map((v) => [v.variantId, v.metric])).toEqual([['variant-B', 'unsubscribed']]);
  });
});

describe('thresholds of the caller’s', () => {
  it('replace the defaults', () => {
    const counts = [variant('A', { sent: 10, unsubscribed: 0 }), variant('B', { sent: 10, unsubscribed: 5 })];
    expect(stopped(counts)).toEqual([]);
    const loose = {
      unsubscribed: { minSent: 10, minEvents: 1, ratio: 1.5, probability: 0.9 },
      complained: GUARDRAILS.complained,
    };
    expect(guardrailVerdicts(counts, loose).map((v) => v.variantId)).toEqual(['variant-B']);
  });
});
