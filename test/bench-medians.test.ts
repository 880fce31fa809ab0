import { describe, expect, it } from 'vitest';
import { medianOfRuns } from '../bench/stats.js';

describe('the benchmark report of several runs', () => {
  const run = (p99: number, samples: number[], operation = 'pause') => ({ operation, read: false, p99, burst: { p99: p99 * 2 }, samples });

  it('gives each figure its own median across the runs', () => {
    const combined = medianOfRuns([run(300, [1]), run(100, [2]), run(200, [3])]);
    expect(combined.p99).toBe(200);
    expect(combined.burst.p99).toBe(400);
  });

  it('takes lists of samples, words and flags whole from the typical run, not mixed', () => {
    const runs = [run(300, [1, 1], 'a'), run(100, [2, 2], 'b'), run(200, [3, 3], 'c')];
    const combined = medianOfRuns(runs, runs[2]);
    expect(combined.samples).toEqual([3, 3]);
    expect(combined.operation).toBe('c');
    expect(combined.read).toBe(false);
  });

  it("keeps the worst run's count of failed requests, so one bad run is never judged clean", () => {
    const failed = (non2xx: number) => ({ p99: 1, non2xx, errors: 0 });
    expect(medianOfRuns([failed(0), failed(7), failed(0)]).non2xx).toBe(7);
  });

  it('combines lists of results item by item (one per operation)', () => {
    const combined = medianOfRuns([
      [run(10, [], 'list'), run(1000, [], 'forecast')],
      [run(30, [], 'list'), run(3000, [], 'forecast')],
      [run(20, [], 'list'), run(2000, [], 'forecast')],
    ]);
    expect(combined.map((r) => r.p99)).toEqual([20, 2000]);
  });

  it('matches results named by operation across runs, whatever their order', () => {
    const combined = medianOfRuns([
      [run(10, [], 'pause'), run(1000, [], 'resume')],
      [run(3000, [], 'resume'), run(30, [], 'pause')],
      [run(20, [], 'pause'), run(2000, [], 'resume')],
    ]);
    expect(combined.map((r) => [r.operation, r.p99])).toEqual([
      ['pause', 20],
      ['resume', 2000],
    ]);
  });

  it('refuses runs of another shape instead of mixing their figures', () => {
    expect(() => medianOfRuns([[run(10, [], 'pause')], [run(30, [], 'resume')]])).toThrow(/no 'pause'/);
    expect(() => medianOfRuns([[run(10, [])], [run(30, []), run(40, [])]])).toThrow(/another shape/);
  });
});
