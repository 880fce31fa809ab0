import { existsSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { inject } from 'vitest';
import type { DatabaseActivities, NextStepPlan, SendingActivities, SendOutcome } from '../../activities/index.js';
import type { OnReplyAction } from '../../db/schema.js';
import { temporalTestServerPath } from '../../temporal/binaries.js';
import { workflowsPath } from '../../temporal/worker.js';
import {
  controlUpdate,
  enrolmentWorkflowId,
  sendsTaskQueue,
  stateQuery,
  type ControlAction,
  type EnrolmentState,
} from '../../workflows/contract.js';
import type { EnrolmentStatus } from '../../domain/enrolment-status.js';
import { enrolmentWorkflow } from '../../workflows/enrolment.js';
import { searchAttributes } from '../../workflows/search-attributes.js';

// The fast layer: the workflows on Temporal's time-skipping test server with every activity a
// plain function that records its calls. No PostgreSQL, no API, no provider. One environment and
// one pair of workers per test file (as temporal/worker.ts splits them: workflows and database
// activities on the main queue, sending activities on `<queue>-sends`), replaced after a test that
// fails or leaves it unable to skip time (`reset`); each test scripts its own fake enrolment, found
// by the enrolment id every activity receives.

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const TASK_QUEUE = 'workflow-layer';

type PlanInput = Parameters<DatabaseActivities['planNextStep']>[0];
type SendInput = Parameters<SendingActivities['sendStep']>[0];
type StatusInput = Parameters<DatabaseActivities['recordStatus']>[0];

/** One activity call as the stub saw it, with the run it came from (continue-as-new starts a new one). */
export type Call =
  | { activity: 'planNextStep'; input: PlanInput; runId: string }
  | { activity: 'sendStep'; input: SendInput; runId: string; /** Ran as a local activity, in the workflow's worker. */ local: boolean }
  | { activity: 'recordStatus'; input: StatusInput; runId: string }
  | { activity: 'recordReply'; input: { enrolmentId: string }; runId: string };

export interface Script {
  /** The plan for the nth call (0-based); by default the fake sequence's next unsent step. */
  plan?(input: PlanInput, n: number, fake: FakeEnrolment): NextStepPlan | Promise<NextStepPlan>;
  /** The outcome of the nth send; by default sent. A thrown error fails the activity. */
  send?(input: SendInput, n: number, fake: FakeEnrolment): SendOutcome | Promise<SendOutcome>;
  /** What the sequence does on a reply (`sequences.on_reply`). */
  onReply?: OnReplyAction;
  /** The default plans say no send rate is set: the sends run as local activities. */
  sendsLocally?: boolean;
  /** Runs inside recordStatus before it returns. */
  onStatus?(input: StatusInput, fake: FakeEnrolment): void | Promise<void>;
}

let counter = 0;

/**
 * A send as today's sendStep answers it: sent, with what follows the email (the next step planned
 * from the send's clock, or the enrolment completed, both written by the send).
 */
export function sendPlanningNext(input: SendInput, _n: number, fake: FakeEnrolment): SendOutcome {
  const plan = fake.nextUnsent(input.now, [input.stepId]);
  if (plan.next) fake.plans.push(plan);
  return {
    outcome: 'sent',
    messageId: `m-${input.stepId}`,
    sentAt: input.now,
    following: plan.next ? { previousAt: input.now, plan } : { previousAt: input.now, completed: { reason: 'all steps sent' } },
  };
}

/**
 * A fake enrolment in a fake sequence whose steps are due `delays[i]` after the previous email
 * (the first after the enrolment), planned from `previousAt` as the real planNextStep does.
 */
export class FakeEnrolment {
  readonly id = `e${Date.now().toString(36)}-${++counter}`;
  readonly calls: Call[] = [];
  readonly sentStepIds: string[] = [];
  /** What planNextStep answered, and what a send answered would follow it, in order. */
  readonly plans: NextStepPlan[] = [];
  /**
   * The enrolment's workflow (its latest run), for a script's activities to signal. Set before the
   * start is asked for: a first step due at once can be sent before the start's answer arrives.
   */
  handle?: WorkflowHandle<typeof enrolmentWorkflow>;

  constructor(
    readonly delays: number[],
    readonly script: Script = {},
  ) {}

  stepId = (index: number) => `${this.id}-step-${index + 1}`;

  /** What the real planNextStep answers for a sequence with these delays: the first step not sent. */
  nextUnsent(previousAt: string, alsoSent: string[] = []): NextStepPlan {
    const index = this.delays.findIndex((_, i) => ![...this.sentStepIds, ...alsoSent].includes(this.stepId(i)));
    if (index < 0) return { next: null };
    const dueAt = new Date(Date.parse(previousAt) + this.delays[index]!).toISOString();
    return {
      ...(this.script.sendsLocally ? { sendsLocally: true as const } : {}),
      next: {
        stepId: this.stepId(index),
        number: index + 1,
        of: this.delays.length,
        subject: `Subject ${index + 1}`,
        dueAt,
        summary: `Step ${index + 1} of ${this.delays.length} due ${dueAt}`,
      },
    };
  }

  callsOf<A extends Call['activity']>(activity: A): Extract<Call, { activity: A }>[] {
    return this.calls.filter((c): c is Extract<Call, { activity: A }> => c.activity === activity);
  }
  /**
   * The status writes, in order. A local activity runs at least once: when a workflow task fails
   * (a signal arriving as the run completes makes the server refuse the completion) its local
   * activities run again on the retry, so the same write may be seen twice in a row. recordStatus
   * is idempotent, and a repeat in a row is folded here.
   */
  statusWrites = () =>
    this.callsOf('recordStatus')
      .map((c) => c.input)
      .filter((input, i, all) => i === 0 || JSON.stringify(input) !== JSON.stringify(all[i - 1]));
  /** The statuses written to the database, in order (a repeated write folded, as above). */
  statuses = () => this.statusWrites().map((input) => input.status);
  sends = () => this.callsOf('sendStep').map((c) => c.input);
}

const fakes = new Map<string, FakeEnrolment>();
const runIdOf = () => Context.current().info.workflowExecution?.runId ?? '';
const fakeOf = (enrolmentId: string) => {
  const fake = fakes.get(enrolmentId);
  if (!fake) throw new Error(`no fake enrolment ${enrolmentId}`);
  return fake;
};

/** The activities the enrolment workflow calls, as stubs that record and answer from the script. */
export const enrolmentActivityStubs = {
  async planNextStep(input: PlanInput): Promise<NextStepPlan> {
    const fake = fakeOf(input.enrolmentId);
    const n = fake.callsOf('planNextStep').length;
    fake.calls.push({ activity: 'planNextStep', input, runId: runIdOf() });
    const plan = fake.script.plan ? await fake.script.plan(input, n, fake) : fake.nextUnsent(input.previousAt);
    fake.plans.push(plan);
    return plan;
  },
  async recordStatus(input: StatusInput): Promise<void> {
    const fake = fakeOf(input.enrolmentId);
    fake.calls.push({ activity: 'recordStatus', input, runId: runIdOf() });
    await fake.script.onStatus?.(input, fake);
  },
  async recordReply(input: { enrolmentId: string }): Promise<OnReplyAction> {
    const fake = fakeOf(input.enrolmentId);
    fake.calls.push({ activity: 'recordReply', input, runId: runIdOf() });
    return fake.script.onReply ?? 'stop';
  },
  async sendStep(input: SendInput): Promise<SendOutcome> {
    const fake = fakeOf(input.enrolmentId);
    const n = fake.callsOf('sendStep').length;
    fake.calls.push({ activity: 'sendStep', input, runId: runIdOf(), local: Context.current().info.isLocal });
    const outcome: SendOutcome = fake.script.send
      ? await fake.script.send(input, n, fake)
      : { outcome: 'sent', messageId: `m-${input.stepId}`, sentAt: input.now };
    if (outcome.outcome === 'sent') fake.sentStepIds.push(input.stepId);
    return outcome;
  },
};

export interface WorkflowLayer {
  /** The current environment (a new one after `reset` found the last one unfit). */
  readonly env: TestWorkflowEnvironment;
  /** Starts the enrolment workflow for a fake enrolment. */
  enrol(fake: FakeEnrolment, options?: { historyBound?: number }): Promise<WorkflowHandleWithFirstExecutionRunId<typeof enrolmentWorkflow>>;
  /**
   * Between tests (skipped time is global to the environment): terminates the workflows still
   * running, each once it has no workflow task or activity in flight, then checks that the
   * environment's time still skips. After a failed test (whose code may still be running), or when
   * time no longer skips, the environment and its workers are replaced, so that one stall fails
   * one test; in the latter case this throws, naming the cause, to fail the test that left it.
   */
  reset(options?: { failed?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Whether a run has a workflow task or an activity in flight. The time-skipping test server holds
 * a lock on skipping for each, and a run terminated meanwhile never gives it back: the worker's
 * completion is refused ("Completed workflow") and the lock is never released (the family of
 * temporalio/sdk-java#1138). Every later `env.sleep` or `result()` in that environment would then
 * wait in real time, days for a test that skips days, and each test time out in turn.
 */
async function inFlight(handle: WorkflowHandleWithFirstExecutionRunId): Promise<boolean> {
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') return false;
  if (description.raw.pendingActivities?.length) return true;
  // The last workflow task event tells: scheduled or started, and not yet completed, failed or timed out.
  const type = temporal.api.enums.v1.EventType;
  const open = [type.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, type.EVENT_TYPE_WORKFLOW_TASK_STARTED];
  const closed = [type.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, type.EVENT_TYPE_WORKFLOW_TASK_FAILED, type.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT];
  const events = (await handle.fetchHistory()).events ?? [];
  const last = events.findLast((event) => [...open, ...closed].includes(event.eventType!));
  return open.includes(last?.eventType ?? type.EVENT_TYPE_UNSPECIFIED);
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Whether the environment still skips time: a minute within `realMs` of real time (it takes
 * milliseconds). If not, releases the locks left held until that minute has passed, so that the
 * environment can be torn down with no call in flight (the client retries a call the closing
 * server broke, on a closed channel, and throws out of a timer).
 */
async function skipsTime(env: TestWorkflowEnvironment, realMs = 10_000): Promise<boolean> {
  let ended = false;
  const sleep = env.sleep(MINUTE).then(
    () => (ended = true),
    () => (ended = true),
  );
  await Promise.race([sleep, delay(realMs)]);
  if (ended) return true;
  for (let i = 0; i < 10 && !ended; i++) {
    await env.connection.testService?.unlockTimeSkipping({});
    await Promise.race([sleep, delay(1_000)]);
  }
  return false;
}

function quietRuntime() {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { forward: {} } } });
  } catch {
    // Already installed in this process: keep it.
  }
}

/** The workflow code: the bundle the global setup built once per run, else bundled from source. */
export function workflowCode(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  let codePath: string | undefined;
  try {
    codePath = inject('workflowBundlePath');
  } catch {
    codePath = undefined;
  }
  return codePath && existsSync(codePath) ? { workflowBundle: { codePath } } : { workflowsPath };
}

/**
 * The time-skipping environment with the two workers, running until `stop()`. Extra activities
 * (the broadcast's, the one-off's) join the stubs on their queue.
 */
export async function startWorkflowLayer(
  extra: { database?: Partial<DatabaseActivities>; sending?: Partial<SendingActivities> } = {},
): Promise<WorkflowLayer> {
  quietRuntime();
  const path = temporalTestServerPath();
  if (!path) throw new Error('temporal-test-server not found: run `npm run setup` or set TEMPORAL_TEST_SERVER_PATH');
  const { planNextStep, recordStatus, recordReply, sendStep } = enrolmentActivityStubs;

  async function start() {
    const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: path! } } });
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(
        searchAttributes.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
    const workers = await Promise.all([
      Worker.create({
        connection: env.nativeConnection,
        taskQueue: TASK_QUEUE,
        ...workflowCode(),
        // sendStep here too: a plan that says no send rate is set sends as a local activity.
        activities: { planNextStep, recordStatus, recordReply, sendStep, ...extra.database },
      }),
      Worker.create({
        connection: env.nativeConnection,
        taskQueue: sendsTaskQueue(TASK_QUEUE),
        activities: { sendStep, ...extra.sending },
      }),
    ]);
    const running = Promise.all(workers.map((worker) => worker.run()));
    return { env, workers, running, started: [] as WorkflowHandleWithFirstExecutionRunId[] };
  }
  async function shutdown({ env, workers, running }: Awaited<ReturnType<typeof start>>) {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await env.teardown();
  }

  let current = await start();
  const retired: Awaited<ReturnType<typeof start>>[] = [];
  return {
    get env() {
      return current.env;
    },
    async enrol(fake, options = {}) {
      fakes.set(fake.id, fake);
      const workflowId = enrolmentWorkflowId(fake.id);
      fake.handle = current.env.client.workflow.getHandle<typeof enrolmentWorkflow>(workflowId);
      const handle = await current.env.client.workflow.start(enrolmentWorkflow, {
        taskQueue: TASK_QUEUE,
        workflowId,
        args: [{ enrolmentId: fake.id, ...options }],
      });
      current.started.push(handle);
      return handle;
    },
    async reset({ failed = false } = {}) {
      const settle = async (handle: WorkflowHandleWithFirstExecutionRunId) => {
        // Bounded: a run still busy after that is terminated anyway, and the check below tells.
        await until(async () => !(await inFlight(handle)), 'the run to be idle', 10_000).catch(() => undefined);
        await handle.terminate('test over');
      };
      await Promise.all(current.started.splice(0).map((handle) => settle(handle).catch(() => undefined)));
      if (failed) {
        // The test's own code may still be running on this environment (a timed-out test runs on),
        // and would make the check below pass or fail for it: the next tests get a new one, and
        // this one is torn down at the end, once that code is likely done.
        retired.push(current);
        current = await start();
        return;
      }
      if (!(await skipsTime(current.env))) {
        await shutdown(current);
        current = await start();
        throw new Error(
          'the time-skipping test server no longer skips time after this test (a lock on skipping was left held: ' +
            'a run terminated with a workflow task or an activity in flight?); the environment was replaced for the next tests',
        );
      }
    },
    async stop() {
      for (const layer of [...retired.splice(0), current]) await shutdown(layer);
    },
  };
}

/** Polls until `predicate` holds (a workflow reaching a point; never a measure of time). */
export async function until<T>(predicate: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A script whose first send applies `action` through the control update and waits until the
 * workflow shows it, then sends: the update is accepted while the send is in flight (with a low
 * history bound, the send that crosses it). `answer()` is the update's answer, or its error.
 */
export function controlDuringFirstSend(action: ControlAction, applied: EnrolmentStatus) {
  let answer: Promise<EnrolmentState | Error> | undefined;
  const script: Script = {
    send: async (input, n, self) => {
      if (n === 0) {
        answer = self.handle!.executeUpdate(controlUpdate, { args: [action] }).catch((error: Error) => error);
        await until(async () => (await self.handle!.query(stateQuery)).status === applied, `the ${action} applied`);
      }
      return { outcome: 'sent', messageId: 'm', sentAt: input.now };
    },
  };
  return { script, answer: () => answer };
}
