import { createServer } from 'node:net';
import autocannon from 'autocannon';
import { createAccount } from '../../db/accounts.js';
import { openDatabase } from '../../db/client.js';
import { apiClient } from '../../test/helpers/service.js';
import { startBenchEnvironment, type BenchEnvironment } from '../environment.js';
import { spawnChild } from '../processes.js';
import { median, round, until } from '../stats.js';
import { createSequence, enrolAll, importLeads, type Api } from './common.js';

export interface FootprintPoint {
  sleepingEnrolments: number;
  workerRssMiB: number;
  apiRssMiB: number;
}

export interface LatencyResult {
  operation: string;
  requestsPerSecond: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

/** The production entry points against a bench environment, with a fresh account's API client. */
export async function productionProcesses(
  env: BenchEnvironment,
  which: ('worker.ts' | 'server.ts')[],
  existing?: { apiKey: string; taskQueue: string },
) {
  const config = env.config({ NODE_ENV: 'production', ...(existing ? { TEMPORAL_TASK_QUEUE: existing.taskQueue } : {}) });
  const port = await freePort();
  const childEnv = {
    NODE_ENV: 'production',
    DATABASE_URL: config.DATABASE_URL!,
    TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
    RESEND_API_KEY: config.RESEND_API_KEY!,
    RESEND_BASE_URL: config.RESEND_BASE_URL!,
    UNSUBSCRIBE_SECRET: config.UNSUBSCRIBE_SECRET,
    PUBLIC_BASE_URL: config.PUBLIC_BASE_URL!,
    API_RATE_LIMIT_PER_MINUTE: '0',
    PORT: String(port),
    HOST: '127.0.0.1',
  };
  const children = await Promise.all(which.map((script) => spawnChild(script, childEnv, script === 'worker.ts' ? 'worker running' : 'API listening')));
  let apiKey = existing?.apiKey;
  if (!apiKey) {
    const database = await openDatabase({ url: config.DATABASE_URL, dataDir: '.data' });
    apiKey = (await createAccount(database.db, { name: 'Bench', senderName: 'Bench' })).apiKey;
    await database.close();
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    config,
    baseUrl,
    apiKey,
    api: apiClient(baseUrl, apiKey),
    child: (script: 'worker.ts' | 'server.ts') => children[which.indexOf(script)]!,
    stop: () => Promise.all(children.map((c) => c.stop().catch(() => {}))),
  };
}

const asleep = (env: BenchEnvironment, size: number) =>
  until(
    async () => Number((await env.sql`select count(*) as n from enrolments where next_due_at is not null`)[0]!.n) >= size,
    `${size} enrolments asleep`,
    4 * 60 * 60_000,
    1_000,
  );

/**
 * Footprint: the worker and the API as separate production processes; enrol leads into a
 * sequence whose step is days away until `sizes` enrolments sleep, and read each process's
 * resident memory at each size (median of ten reads after the last workflow task settles).
 * Long at 100,000 (every workflow's first task must run), so it is meant to run on its own:
 * `nice -n 19 npm run bench -- --only footprint`, and the full report borrows it.
 */
export async function footprint(sizes: number[]): Promise<FootprintPoint[]> {
  const env = await startBenchEnvironment();
  const processes = await productionProcesses(env, ['worker.ts', 'server.ts']);
  try {
    const sequenceId = await createSequence(processes.api, [{ delayMinutes: 3 * 24 * 60 }]);
    const points: FootprintPoint[] = [];
    let enrolled = 0;
    for (const size of sizes) {
      const leadIds = await importLeads(processes.api, size - enrolled, `sleep-${enrolled}`);
      // Smaller requests than the API allows: a niced run must not outlast fetch's five-minute wait.
      await enrolAll(processes.api, sequenceId, leadIds, 2_000);
      enrolled = size;
      await asleep(env, size);
      await new Promise((r) => setTimeout(r, 10_000));
      const samples = { worker: [] as number[], api: [] as number[] };
      for (let i = 0; i < 10; i++) {
        samples.worker.push(processes.child('worker.ts').rssMiB());
        samples.api.push(processes.child('server.ts').rssMiB());
        await new Promise((r) => setTimeout(r, 500));
      }
      points.push({ sleepingEnrolments: size, workerRssMiB: median(samples.worker), apiRssMiB: median(samples.api) });
      console.log(`[bench] footprint ${JSON.stringify(points.at(-1))}`);
    }
    return points;
  } catch (error) {
    console.error(`worker output:\n${processes.child('worker.ts').output()}\nAPI output:\n${processes.child('server.ts').output()}`);
    throw error;
  } finally {
    await processes.stop();
    await env.close();
  }
}

/**
 * API latency under load: `count` enrolments asleep in one sequence (planned by an in-process
 * worker), then autocannon at a fixed request rate against the production API process: list the
 * sequence's enrolments page by page, get one enrolment, pause and resume. /healthz at the same
 * rate is the baseline (Express and the network alone).
 */
export async function apiLatencyUnderLoad(count: number, load: { rate: number; seconds: number }): Promise<LatencyResult[]> {
  const env = await startBenchEnvironment();
  try {
    const service = await env.service();
    const sequenceId = await createSequence(service.api, [{ delayMinutes: 3 * 24 * 60 }]);
    await enrolAll(service.api, sequenceId, await importLeads(service.api, count, 'latency'));
    await asleep(env, count);
    // The API as its own process, on the account and task queue of the in-process worker.
    const api = await productionProcesses(env, ['server.ts'], { apiKey: service.apiKey, taskQueue: service.config.TEMPORAL_TASK_QUEUE });
    try {
      return await apiLatency(api.baseUrl, api.apiKey, api.api, sequenceId, env.sql, load);
    } finally {
      await api.stop();
    }
  } finally {
    await env.close();
  }
}

async function apiLatency(
  baseUrl: string,
  apiKey: string,
  api: Api,
  sequenceId: string,
  sql: import('postgres').Sql,
  { rate, seconds }: { rate: number; seconds: number },
): Promise<LatencyResult[]> {
  const ids = (await sql<{ id: string }[]>`select id from enrolments order by random()`).map((r) => r.id);
  const cursors: (string | undefined)[] = [undefined];
  for (let page = 0; page < 50; page++) {
    const res = await api('GET', `/v1/sequences/${sequenceId}/enrolments?limit=100${cursors.at(-1) ? `&cursor=${cursors.at(-1)}` : ''}`);
    if (!res.body.nextCursor) break;
    cursors.push(res.body.nextCursor);
  }
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
  let paused = 0;
  let resumed = 0;
  const operations: [string, string, () => string][] = [
    ['baseline: GET /healthz', 'GET', () => '/healthz'],
    ['list enrolments (page of 100)', 'GET', () => `/v1/sequences/${sequenceId}/enrolments?limit=100${(() => { const c = pick(cursors); return c ? `&cursor=${c}` : ''; })()}`],
    ['get one enrolment', 'GET', () => `/v1/enrolments/${pick(ids)}`],
    ['pause an enrolment', 'POST', () => `/v1/enrolments/${ids[paused++ % ids.length]}/pause`],
    ['resume it', 'POST', () => `/v1/enrolments/${ids[resumed++ % ids.length]}/resume`],
  ];
  const results: LatencyResult[] = [];
  for (const [operation, method, path] of operations) {
    const result = await autocannon({
      url: baseUrl,
      connections: 10,
      overallRate: rate,
      duration: seconds,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      requests: [{ method: method as 'GET', setupRequest: (req) => ({ ...req, path: path(), ...(method === 'POST' ? { body: '{}' } : {}) }) }],
    });
    results.push({
      operation,
      requestsPerSecond: round(result.requests.average, 1),
      requests: result.requests.total,
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
      non2xx: result.non2xx,
      errors: result.errors,
    });
  }
  return results;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
