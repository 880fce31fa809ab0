import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';

export interface PacedRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

export interface PacedResult {
  requestsPerSecond: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

/**
 * Open-loop load at a fixed request rate: one request every 1/rate seconds, whether or not the
 * earlier ones have answered, each timed from the moment it was due (so a stall is charged to
 * every request it delayed, not hidden). autocannon's rate is a per-second budget that each
 * connection spends back to back at the start of the second (mcollina/autocannon#174): at
 * 100 req/s over 10 connections that is a burst of 100, a different load.
 */
export async function pacedLoad(options: {
  baseUrl: string;
  rate: number;
  seconds: number;
  headers: Record<string, string>;
  next: () => PacedRequest;
  /** Told each answer's status (a load's own requests may be refused on purpose, e.g. rate limits). */
  onAnswer?: (status: number) => void;
}): Promise<PacedResult> {
  const pool = new Pool(options.baseUrl, { connections: 64 });
  // Microseconds, up to a minute.
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  let non2xx = 0;
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const request = options.next();
    // A timer may fire a little early: then the clock starts when the request really left.
    const from = Math.min(due, performance.now());
    inFlight.push(
      pool
        .request({ method: request.method, path: request.path, headers: options.headers, body: request.body })
        .then(async (res) => {
          await res.body.dump();
          options.onAnswer?.(res.statusCode);
          if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
          histogram.recordValue(Math.round((performance.now() - from) * 1000));
        })
        .catch((error) => {
          if (process.env.PACED_DEBUG) console.error(error);
          errors++;
        }),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  await pool.close();
  const ms = (us: number) => Math.round(us / 100) / 10;
  return {
    requestsPerSecond: Math.round((total / elapsed) * 10) / 10,
    requests: total,
    p50: ms(histogram.getValueAtPercentile(50)),
    p99: ms(histogram.getValueAtPercentile(99)),
    max: ms(histogram.maxValue),
    non2xx,
    errors,
  };
}
