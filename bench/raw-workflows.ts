import { proxyActivities, proxyLocalActivities, sleep } from '@temporalio/workflow';

/**
 * Baselines for `npm run bench`: the least work a workflow can do in the same shape as ours, run
 * on the same Temporal server. Their speed is the ceiling the service is measured against.
 */
interface RawActivities {
  noop(): Promise<void>;
  arrived(dueAt: number): Promise<void>;
}
const local = proxyLocalActivities<RawActivities>({ startToCloseTimeout: '10 seconds' });
const remote = proxyActivities<RawActivities>({ startToCloseTimeout: '10 seconds' });

/** Starts, runs one local activity, sleeps: what an enrolment does before its first step. */
export async function rawSleeper(): Promise<void> {
  await local.noop();
  await sleep('3 days');
}

/** Runs one no-op activity through the task queue and ends: the floor under one sent step. */
export async function rawOneActivity(): Promise<void> {
  await remote.noop();
}

/** Sleeps until `dueAt` (epoch ms), then runs one activity: the floor under a step sent on time. */
export async function rawDue(dueAt: number): Promise<void> {
  await sleep(Math.max(0, dueAt - Date.now()));
  await remote.arrived(dueAt);
}
