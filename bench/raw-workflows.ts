import { proxyLocalActivities, proxyActivities, sleep } from '@temporalio/workflow';

/** Baselines for `npm run bench`: the least work a workflow can do in the same shape as ours. */
const { noop } = proxyLocalActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });
const remote = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

/** Starts, runs one local activity, sleeps: what an enrolment does before its first step. */
export async function rawSleeper(): Promise<void> {
  await noop();
  await sleep('3 days');
}

/** Runs one no-op activity through the task queue and ends: the floor under one sent step. */
export async function rawOneActivity(): Promise<void> {
  await remote.noop();
}
