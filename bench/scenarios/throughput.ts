import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pLimit from 'p-limit';
import { startBenchEnvironment } from '../environment.js';
import { productionProcesses } from '../processes.js';
import { perSecond, round, until } from '../stats.js';
import { createSequence, enrolAll, importLeads } from './common.js';
import { enrolmentStartOptions } from '../../temporal/client.js';

/** How many workflow starts are in flight at once: the API's own figure (workflow-starter.ts). */
export const START_CONCURRENCY = 48;
const HOUR = 60 * 60_000;

export interface ThroughputRun {
  count: number;
  seconds: number;
  perSecond: number;
  /** Arrivals per second since the clock started (send throughput only). */
  series?: { second: number; count: number }[];
  /**
   * CPU of the bench process per item, in ms (send throughput only): the API, the worker (its
   * Temporal core threads included) and the sink run in it, so the worker's own share is less.
   */
  cpuMsPerItem?: number;
  /**
   * Enrolment throughput only: how many workflows had run their first task (planned, or the raw
   * local activity) when the last start was accepted. Starts are what the server answers first.
   */
  firstTasksRun?: number;
}

/**
 * Enrolment throughput: from the bulk request until every enrolment's workflow has started
 * (the API records it), against starting as many trivial workflows directly with the client.
 */
export async function enrolmentThroughput(
  count: number,
): Promise<{ service: ThroughputRun; raw: ThroughputRun; rawAsTheServiceStarts: ThroughputRun }> {
  const raw = await rawStarts(count, 'rawSleeper');
  // The same starts carrying everything the service's carry (search attributes, summary and
  // details for the Temporal UI, the input, the id reuse policy that keeps an enrolment from
  // running twice): what the server's work per start costs, apart from what the service adds.
  const rawAsTheServiceStarts = await rawStarts(count, 'rawSleeper', { asTheServiceStarts: true });
  const env = await startBenchEnvironment();
  try {
    const service = await env.service();
    const sequenceId = await createSequence(service.api, [{ delayMinutes: 3 * 24 * 60 }]);
    const leadIds = await importLeads(service.api, count, 'enrol');
    const started = Date.now();
    await enrolAll(service.api, sequenceId, leadIds);
    const done = await until(
      async () => Number((await env.sql`select count(*) as n from enrolments where workflow_started_at is not null`)[0]!.n) >= count,
      `${count} workflows started`,
      HOUR,
    );
    const planned = await env.sql`select count(*) as n from enrolments where next_due_at is not null`;
    return { service: { ...run(count, started, done), firstTasksRun: Number(planned[0]!.n) }, raw, rawAsTheServiceStarts };
  } finally {
    await env.close();
  }
}

/**
 * Send throughput: a one-step sequence with no delay, from the bulk request until the Resend sink
 * holds every email, against trivial workflows that each run one no-op activity.
 */
export async function sendThroughput(count: number): Promise<{ service: ThroughputRun; raw: ThroughputRun }> {
  const raw = await rawStarts(count, 'rawOneActivity');
  const env = await startBenchEnvironment();
  try {
    const service = await env.service();
    const sequenceId = await createSequence(service.api, [{ delayMinutes: 0 }]);
    const leadIds = await importLeads(service.api, count, 'send');
    const started = Date.now();
    const cpuBefore = process.cpuUsage();
    await enrolAll(service.api, sequenceId, leadIds);
    const done = await until(() => env.sink.emails.length >= count, `${count} emails at the sink`, HOUR);
    const cpu = process.cpuUsage(cpuBefore);
    const keys = new Set(env.sink.emails.map((e) => e.idempotencyKey));
    if (keys.size !== env.sink.emails.length) throw new Error(`duplicate emails: ${env.sink.emails.length - keys.size}`);
    return {
      service: {
        ...run(count, started, done),
        series: perSecond(
          env.sink.emails.map((e) => e.receivedAt),
          started,
        ),
        cpuMsPerItem: Math.round(((cpu.user + cpu.system) / 1000 / count) * 10) / 10,
      },
      raw,
    };
  } finally {
    await env.close();
  }
}

/** What one process has run on the CPU so far, in ms (utime + stime from /proc, at Linux's 100 ticks a second). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export interface WorkerCpu {
  count: number;
  seconds: number;
  perSecond: number;
  /** The worker process's CPU (all its threads: workflows, activities, the render pool, Temporal's core) per email. */
  cpuMsPerEmail: number;
}

/**
 * The worker's own CPU per sent email: the send scenario with worker.ts and server.ts as their
 * own processes (as they run in production, logging at info), the worker's CPU read from /proc
 * from the bulk request until the sink holds every email.
 */
export async function workerCpuPerEmail(count: number): Promise<WorkerCpu> {
  const env = await startBenchEnvironment();
  try {
    const service = await productionProcesses(env, ['worker.ts', 'server.ts']);
    try {
      const sequenceId = await createSequence(service.api, [{ delayMinutes: 0 }]);
      const leadIds = await importLeads(service.api, count, 'worker-cpu');
      const worker = service.child('worker.ts');
      const before = processCpuMs(worker.pid);
      const started = Date.now();
      await enrolAll(service.api, sequenceId, leadIds);
      const done = await until(() => env.sink.emails.length >= count, `${count} emails at the sink`, HOUR);
      const cpuMsPerEmail = Math.round(((processCpuMs(worker.pid) - before) / count) * 10) / 10;
      return { ...run(count, started, done), cpuMsPerEmail };
    } finally {
      await service.stop();
    }
  } finally {
    await env.close();
  }
}

/** The baseline side: `count` raw workflows started at the API's concurrency on a fresh server. */
async function rawStarts(
  count: number,
  workflow: 'rawSleeper' | 'rawOneActivity',
  options: { asTheServiceStarts?: boolean } = {},
): Promise<ThroughputRun> {
  const env = await startBenchEnvironment();
  try {
    const arrivals: number[] = [];
    const raw = await env.rawWorker({
      async noop() {
        arrivals.push(Date.now());
      },
    });
    const limit = pLimit(START_CONCURRENCY);
    const started = Date.now();
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        limit(() =>
          raw.client.workflow.start(workflow, {
            taskQueue: raw.taskQueue,
            workflowId: `${workflow}-${i}`,
            ...(options.asTheServiceStarts ? startedAsTheServiceStarts(i, raw.taskQueue) : {}),
          }),
        ),
      ),
    );
    if (workflow === 'rawSleeper') return { ...run(count, started, Date.now()), firstTasksRun: arrivals.length };
    const done = await until(() => arrivals.length >= count, `${count} raw activities`, HOUR);
    return { ...run(count, started, done), series: perSecond(arrivals, started) };
  } finally {
    await env.close();
  }
}

const account = randomUUID();
const sequence = randomUUID();
/** The service's own start options (temporal/client.ts) for a made-up enrolment: what its starts carry. */
const startedAsTheServiceStarts = (i: number, taskQueue: string) => {
  const { typedSearchAttributes, staticSummary, staticDetails, args, workflowIdReusePolicy } = enrolmentStartOptions(
    { config: { TEMPORAL_TASK_QUEUE: taskQueue } },
    {
      id: randomUUID(),
      accountId: account,
      sequenceId: sequence,
      leadId: randomUUID(),
      leadEmail: `enrol-${i}@bench.test`,
      sequenceName: 'Bench',
      senderId: null,
    },
  );
  return { typedSearchAttributes, staticSummary, staticDetails, args, workflowIdReusePolicy };
};

function run(count: number, started: number, done: number): ThroughputRun {
  const seconds = (done - started) / 1000;
  return { count, seconds: round(seconds, 2), perSecond: round(count / seconds, 1) };
}
