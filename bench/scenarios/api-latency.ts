import autocannon from 'autocannon';
import type { Sql } from 'postgres';
import { startBenchEnvironment } from '../environment.js';
import { pacedLoad, type PacedRequest, type PacedResult } from '../paced-load.js';
import { productionProcesses } from '../processes.js';
import { round } from '../stats.js';
import { createSequence, enrolAll, importLeads, untilAsleep, type Api } from './common.js';

/** p50, p99 and max in ms; rate achieved; answers that were not 2xx; connection errors. */
export type LatencyFigures = PacedResult;

export interface LatencyResult extends LatencyFigures {
  operation: string;
  read: boolean;
  /** The rate asked for; evenly paced, open loop (bench/paced-load.ts). */
  rate: number;
  /** The same operation through autocannon at `rate` over 10 connections: bursts at each second. */
  burst?: LatencyFigures;
  /** An operation with a floor of its own (p99 under it), at a rate of its own: the forecast. */
  floorMs?: number;
}

/**
 * API latency under load: `count` enrolments asleep in one sequence (planned by an in-process
 * worker), then the production API and worker processes, at a fixed request rate, one operation at a time:
 * the first page of the sequence's enrolments (with status counts), later pages, one enrolment,
 * pause and resume. /healthz at the same rate is the baseline (Express and the network alone).
 * Reads run at `rate`; pause and resume, each a workflow Update, at `writeRate`.
 */
export async function apiLatencyUnderLoad(
  count: number,
  load: { rate: number; writeRate: number; seconds: number },
): Promise<LatencyResult[]> {
  const env = await startBenchEnvironment();
  try {
    const service = await env.service();
    const sequenceId = await createSequence(service.api, [{ delayMinutes: 3 * 24 * 60 }]);
    await enrolAll(service.api, sequenceId, await importLeads(service.api, count, 'latency'));
    await untilAsleep(env.sql, count);
    // What autovacuum would have done by now in production (10,000 inserts and as many updates
    // are past its thresholds). It is off on this machine's PostgreSQL: without statistics the
    // planner sorts all 10,000 enrolments for a page, and without the visibility map a status
    // count reads every enrolment's row instead of the index alone.
    await env.sql`vacuum (analyze)`;
    // The API and the worker as their own processes, as they run in production, on the account and
    // task queue the in-process worker planned with. A worker inside this process would share its
    // event loop and its garbage collections with the load below (clusters of pauses held 150-190
    // ms every few seconds that way; 70-110 ms with the worker on its own).
    await service.stopWorker();
    const api = await productionProcesses(env, ['worker.ts', 'server.ts'], {
      apiKey: service.apiKey,
      taskQueue: service.config.TEMPORAL_TASK_QUEUE,
    });
    try {
      return await measure(api.baseUrl, api.apiKey, api.api, sequenceId, env.sql, load);
    } finally {
      await api.stop();
    }
  } finally {
    await env.close();
  }
}

async function measure(
  baseUrl: string,
  apiKey: string,
  api: Api,
  sequenceId: string,
  sql: Sql,
  { rate, writeRate, seconds }: { rate: number; writeRate: number; seconds: number },
): Promise<LatencyResult[]> {
  const ids = (await sql<{ id: string }[]>`select id from enrolments order by random()`).map((r) => r.id);
  const cursors: string[] = [];
  for (let page = 0; page < 50; page++) {
    const res = await api('GET', `/v1/sequences/${sequenceId}/enrolments?limit=100${cursors.length ? `&cursor=${cursors.at(-1)}` : ''}`);
    if (!res.body.nextCursor) break;
    cursors.push(res.body.nextCursor);
  }
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
  const list = `/v1/sequences/${sequenceId}/enrolments?limit=100`;
  // Pause and resume walk the same shuffled list, so each resume finds its enrolment paused.
  let paused = 0;
  let resumed = 0;
  const operations: { operation: string; read: boolean; next: () => PacedRequest; rate?: number; floorMs?: number }[] = [
    { operation: 'baseline: GET /healthz', read: true, next: () => ({ method: 'GET', path: '/healthz' }) },
    { operation: 'list enrolments, first page of 100 with status counts', read: true, next: () => ({ method: 'GET', path: list }) },
    {
      operation: 'list enrolments, a later page of 100',
      read: true,
      next: () => ({ method: 'GET', path: `${list}&cursor=${pick(cursors)}` }),
    },
    { operation: 'get one enrolment', read: true, next: () => ({ method: 'GET', path: `/v1/enrolments/${pick(ids)}` }) },
    {
      // Issue 18: a sequence of 10,000 enrolments answers its 14-day forecast within a second.
      operation: `forecast of the sequence (${ids.length} enrolments, 14 days)`,
      read: false,
      rate: 2,
      floorMs: 1_000,
      next: () => ({ method: 'GET', path: `/v1/sequences/${sequenceId}/forecast` }),
    },
    {
      operation: 'pause an enrolment',
      read: false,
      floorMs: 250, // issue 19
      next: () => ({ method: 'POST', path: `/v1/enrolments/${ids[paused++ % ids.length]}/pause`, body: '{}' }),
    },
    {
      operation: 'resume it',
      read: false,
      floorMs: 250,
      next: () => ({ method: 'POST', path: `/v1/enrolments/${ids[resumed++ % ids.length]}/resume`, body: '{}' }),
    },
  ];
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const results: LatencyResult[] = [];
  // A sequence of one page has no later pages to ask for.
  for (const { operation, read, next, rate: own, floorMs } of operations.filter(
    (o) => cursors.length || !o.operation.includes('later page'),
  )) {
    const opRate = own ?? (read ? rate : writeRate);
    // A few unrecorded seconds first: the API and worker processes are fresh, and an operation's
    // first requests pay for V8 compiling its path, which a long-running service has long paid (the
    // first five pauses took 110-230 ms, and at 500 requests the fifth slowest is the p99). Writes
    // too: the warm-up pauses and resumes the first enrolments of the list, the same ones.
    await pacedLoad({ baseUrl, rate: opRate, seconds: Math.min(5, seconds), headers, next });
    const paced = await pacedLoad({ baseUrl, rate: opRate, seconds, headers, next });
    // Writes are not repeated in bursts: the paced run already paused and resumed its share.
    const burst = read ? await autocannonBurst(baseUrl, headers, opRate, seconds, next) : undefined;
    results.push({ operation, read, rate: opRate, ...paced, ...(burst ? { burst } : {}), ...(floorMs ? { floorMs } : {}) });
  }
  return results;
}

async function autocannonBurst(
  url: string,
  headers: Record<string, string>,
  rate: number,
  seconds: number,
  next: () => PacedRequest,
): Promise<LatencyFigures> {
  const result = await autocannon({
    url,
    connections: 10,
    overallRate: rate,
    duration: seconds,
    headers,
    requests: [{ setupRequest: (req) => ({ ...req, ...next() }) }],
  });
  return {
    requestsPerSecond: round(result.requests.average, 1),
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
