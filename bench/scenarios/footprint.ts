import { createServer } from 'node:net';
import autocannon from 'autocannon';
import { createAccount } from '../../db/accounts.js';
import { openDatabase } from '../../db/client.js';
import { apiClient } from '../../test/helpers/service.js';
import { startBenchEnvironment } from '../environment.js';
import { spawnChild, type ChildService } from '../processes.js';
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

/**
 * Footprint and API latency, on the production entry points as separate processes: enrol leads
 * into a sequence whose step is days away until `sizes` enrolments sleep, reading the worker's
 * and the API's resident memory at each size. At the first size, load the API with autocannon
 * at a fixed request rate: list a sequence's enrolments page by page, get one enrolment, pause
 * and resume; /healthz at the same rate is the baseline (Express and the network alone).
 */
export async function footprintAndLatency(sizes: number[], latency: { rate: number; seconds: number }): Promise<{ footprint: FootprintPoint[]; latency: LatencyResult[] }> {
  const env = await startBenchEnvironment();
  const children: ChildService[] = [];
  try {
    const config = env.config({ NODE_ENV: 'production' });
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
    const [worker, server] = await Promise.all([spawnChild('worker.ts', childEnv, 'worker running'), spawnChild('server.ts', childEnv, 'API listening')]);
    children.push(worker, server);
    const database = await openDatabase({ url: config.DATABASE_URL, dataDir: '.data' });
    const { apiKey } = await createAccount(database.db, { name: 'Bench', senderName: 'Bench' });
    await database.close();
    const baseUrl = `http://127.0.0.1:${port}`;
    const api = apiClient(baseUrl, apiKey);
    const sequenceId = await createSequence(api, [{ delayMinutes: 3 * 24 * 60 }]);

    const footprint: FootprintPoint[] = [];
    let latencyResults: LatencyResult[] = [];
    let enrolled = 0;
    for (const size of sizes) {
      const leadIds = await importLeads(api, size - enrolled, `sleep-${enrolled}`);
      await enrolAll(api, sequenceId, leadIds);
      enrolled = size;
      await until(
        async () => Number((await env.sql`select count(*) as n from enrolments where next_due_at is not null`)[0]!.n) >= size,
        `${size} enrolments asleep`,
        3 * 60 * 60_000,
        1_000,
      );
      // Let the last workflow tasks and the garbage collector settle, then take the median of ten reads.
      await new Promise((r) => setTimeout(r, 10_000));
      const samples = { worker: [] as number[], api: [] as number[] };
      for (let i = 0; i < 10; i++) {
        samples.worker.push(worker.rssMiB());
        samples.api.push(server.rssMiB());
        await new Promise((r) => setTimeout(r, 500));
      }
      footprint.push({ sleepingEnrolments: size, workerRssMiB: median(samples.worker), apiRssMiB: median(samples.api) });
      if (latencyResults.length === 0) latencyResults = await apiLatency(baseUrl, apiKey, api, sequenceId, env.sql, latency);
    }
    return { footprint, latency: latencyResults };
  } finally {
    for (const child of children) await child.stop().catch(() => {});
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
