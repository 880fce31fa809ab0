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
      [run(10, []), run(1000, [])],
      [run(30, []), run(3000, [])],
      [run(20, []), run(2000, [])],
    ]);
    expect(combined.map((r) => r.p99)).toEqual([20, 2000]);
  });
});
