import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createMainQueueActivities, createSendingActivities, type ActivityDeps } from '../activities/index.js';
import { sendsTaskQueue } from '../workflows/contract.js';

// workflows/index.ts beside this module's own source, or dist/workflows/index.js when compiled.
const thisModule = fileURLToPath(import.meta.url);
const workflowsPath = path.join(path.dirname(thisModule), '..', 'workflows', `index${path.extname(thisModule)}`);

export interface EnrolmentWorkers {
  workers: Worker[];
  connection: NativeConnection;
  /** Runs until shut down (SIGINT/SIGTERM, or `shutdown()`), letting in-flight activities finish. */
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * Two workers on one connection: one runs the workflows and the database activities on the main
 * task queue; the other runs only the sending activities on `<queue>-sends`, whose rate limit
 * (`maxTaskQueueActivitiesPerSecond`) the Temporal server enforces across every worker process.
 * With no rate set, a step's send runs in the first, as a local activity (`sendsLocally` plans).
 * Tests pass a pre-built `workflowBundle` so the workflow code is bundled once per run.
 */
export async function createEnrolmentWorkers(options: {
  /** An existing connection (tests' time-skipping environment), else one to `address`. */
  connection?: NativeConnection;
  address?: string;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  workflowBundle?: WorkerOptions['workflowBundle'];
  sendRatePerSecond?: number;
}): Promise<EnrolmentWorkers> {
  const connection = options.connection ?? (await NativeConnection.connect({ address: options.address }));
  const main = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createMainQueueActivities(options.deps),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    // Sleeping enrolments cost nothing in memory: only this many are kept cached.
    maxCachedWorkflows: 2_000,
    // Enrolment workflow tasks are short; the defaults leave the CPU idle with a backlog.
    maxConcurrentWorkflowTaskExecutions: 120,
    maxConcurrentWorkflowTaskPolls: 40,
    maxConcurrentLocalActivityExecutions: 200,
    shutdownGraceTime: '30 seconds',
  });
  const sends = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: sendsTaskQueue(options.taskQueue),
    activities: createSendingActivities(options.deps),
    maxConcurrentActivityTaskExecutions: 100,
    shutdownGraceTime: '30 seconds',
    maxConcurrentActivityTaskPolls: 20,
    ...(options.sendRatePerSecond ? { maxTaskQueueActivitiesPerSecond: options.sendRatePerSecond } : {}),
  });
  const workers = [main, sends];
  // On SIGTERM the workers stop polling and let in-flight activities (a send under way) finish.
  return {
    workers,
    connection,
    async run() {
      await Promise.all(workers.map((w) => w.run()));
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}

export { workflowsPath };
