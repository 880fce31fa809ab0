// Small numeric summaries for benchmark results.

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: number[]) => percentile(values, 50);

export const round = (value: number, digits = 1) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

/** Counts per whole second since `start`: throughput over time for the chart. */
export function perSecond(times: number[], start: number): { second: number; count: number }[] {
  const buckets = new Map<number, number>();
  for (const t of times) {
    const s = Math.floor((t - start) / 1000);
    buckets.set(s, (buckets.get(s) ?? 0) + 1);
  }
  const last = Math.max(0, ...buckets.keys());
  return Array.from({ length: last + 1 }, (_, second) => ({ second, count: buckets.get(second) ?? 0 }));
}

/** Polls until `check` is true; the poll interval is short next to what is measured. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs: number, intervalMs = 100): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return Date.now();
}

/**
 * Several runs of one measurement as one result, figure by figure: each number is its median
 * across the runs, and lists of numbers (a chart's samples) come from `typical`, one whole run
 * (the first unless the caller names one), since a median of samples means nothing. Lists of
 * results named by `operation` are matched by name, not by position; the runs must share a
 * shape, and a run that does not is an error, not a figure quietly taken from another item.
 */
export function medianOfRuns<T>(runs: T[], typical: T = runs[0]!): T {
  return combine(runs, typical) as T;
}

/** Counts of failures: one run with errors is not made clean by two without, so the worst run's. */
const WORST_OF = new Set(['non2xx', 'errors']);

const operationOf = (item: unknown) =>
  item !== null && typeof item === 'object' && typeof (item as { operation?: unknown }).operation === 'string'
    ? (item as { operation: string }).operation
    : undefined;

function combine(values: unknown[], typical: unknown, key?: string): unknown {
  if (values.every((v) => typeof v === 'number')) {
    return key && WORST_OF.has(key) ? Math.max(...(values as number[])) : median(values as number[]);
  }
  if (Array.isArray(typical)) {
    if (typical.every((v) => typeof v === 'number')) return typical;
    const lists = values.map((v, run) => {
      if (!Array.isArray(v) || v.length !== typical.length) throw new Error(`run ${run + 1} has another shape${key ? ` at ${key}` : ''}`);
      return v as unknown[];
    });
    return typical.map((item, i) => {
      const operation = operationOf(item);
      const counterparts = lists.map((list, run) => {
        if (operation === undefined) return list[i];
        const found = list.find((other) => operationOf(other) === operation);
        if (found === undefined) throw new Error(`run ${run + 1} has no '${operation}'`);
        return found;
      });
      return combine(counterparts, item);
    });
  }
  if (typical !== null && typeof typical === 'object') {
    return Object.fromEntries(
      Object.entries(typical).map(([key, item]) => [
        key,
        combine(
          values.map((v) => (v as Record<string, unknown> | undefined)?.[key]),
          item,
          key,
        ),
      ]),
    );
  }
  return typical;
}
