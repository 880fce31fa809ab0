import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';

const workflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'workflows', 'index.ts');

/**
 * The worker that runs enrolment workflows and their activities. Tests pass a pre-built
 * `workflowBundle` so the workflow code is bundled once per run, not once per worker.
 */
export async function createEnrolmentWorker(options: {
  /** An existing connection (tests' time-skipping environment), else one to `address`. */
  connection?: NativeConnection;
  address?: string;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxTaskQueueActivitiesPerSecond?: number;
}): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = options.connection ?? (await NativeConnection.connect({ address: options.address }));
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.deps),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    maxTaskQueueActivitiesPerSecond: options.maxTaskQueueActivitiesPerSecond,
    // Sleeping enrolments cost nothing in memory: only this many are kept cached.
    maxCachedWorkflows: 2_000,
    // Enrolment workflow tasks are short; the defaults leave the CPU idle with a backlog
    // (measured with `npm run bench`).
    maxConcurrentWorkflowTaskExecutions: 120,
    maxConcurrentWorkflowTaskPolls: 40,
    maxConcurrentActivityTaskPolls: 20,
    maxConcurrentLocalActivityExecutions: 200,
  });
  return { worker, connection };
}

export { workflowsPath };
