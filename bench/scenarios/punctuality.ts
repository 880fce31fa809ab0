import pLimit from 'p-limit';
import { startBenchEnvironment } from '../environment.js';
import { percentile, round, until } from '../stats.js';
import { createSequence, enrolAll, importLeads, type Api } from './common.js';
import { START_CONCURRENCY } from './throughput.js';

export interface Lateness {
  count: number;
  /** Seconds between the first and the last due time. */
  dueSpreadSeconds: number;
  p50: number;
  p99: number;
  max: number;
  /** Every lateness in seconds, for the distribution chart. */
  samples: number[];
}

/**
 * Punctuality: `count` enrolments whose first step falls due within about a minute (the time the
 * bulk enrolment takes to start them spreads their due times), with no send rate limit. Lateness
 * is when the sink received the email minus the due time the workflow planned. The raw side
 * sleeps `count` trivial workflows until due times spread over the same span, then runs one activity.
 * With `enrolOverSeconds`, the enrolments are paced over that span instead of sent at once, so
 * that their due times spread evenly over it (within capacity: fewer due a second than the
 * engine sends).
 */
export async function punctuality(
  count: number,
  delayMinutes: number,
  rawSpreadSeconds: number,
  options: { enrolOverSeconds?: number } = {},
): Promise<{ service: Lateness; raw: Lateness }> {
  const raw = await rawPunctuality(count, rawSpreadSeconds);
  const env = await startBenchEnvironment();
  try {
    const service = await env.service();
    const sequenceId = await createSequence(service.api, [{ delayMinutes }]);
    const leadIds = await importLeads(service.api, count, 'due');
    if (options.enrolOverSeconds) await enrolPaced(service.api, sequenceId, leadIds, options.enrolOverSeconds);
    else await enrolAll(service.api, sequenceId, leadIds);
    await until(() => env.sink.emails.length >= count, `${count} emails at the sink`, 3 * 60 * 60_000, 1_000);
    // Each step was due `delayMinutes` after its workflow started (no send window): the workflow's
    // own clock, read back from Temporal, independent of when the plan reached the database.
    const dueOf = new Map<string, number>();
    for await (const workflow of service.temporal.workflow.list({ query: `WorkflowType = 'enrolmentWorkflow'` })) {
      dueOf.set(workflow.workflowId.replace(/^enrolment-/, ''), workflow.startTime.getTime() + delayMinutes * 60_000);
    }
    const lateness = env.sink.emails.map((e) => {
      const enrolmentId = /^enrolment-(.+)-step-/.exec(e.idempotencyKey ?? '')?.[1];
      const due = dueOf.get(enrolmentId!);
      if (due === undefined) throw new Error(`no workflow for the email ${e.idempotencyKey}`);
      return (e.receivedAt - due) / 1000;
    });
    const dues = [...dueOf.values()];
    const firstDue = Math.min(...dues);
    const maxDue = Math.max(...dues);
    return { service: summarise(lateness, (maxDue - firstDue) / 1000), raw };
  } finally {
    await env.close();
  }
}

async function rawPunctuality(count: number, spreadSeconds: number): Promise<Lateness> {
  const env = await startBenchEnvironment();
  try {
    const lateness: number[] = [];
    const raw = await env.rawWorker({
      async arrived(dueAt: number) {
        lateness.push((Date.now() - dueAt) / 1000);
      },
    });
    // Far enough ahead that every workflow is asleep before the first falls due.
    const firstDue = Date.now() + 20_000 + count * 20;
    const limit = pLimit(START_CONCURRENCY);
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        limit(() =>
          raw.client.workflow.start('rawDue', {
            taskQueue: raw.taskQueue,
            workflowId: `rawDue-${i}`,
            args: [firstDue + Math.floor((i / count) * spreadSeconds * 1000)],
          }),
        ),
      ),
    );
    if (Date.now() >= firstDue) throw new Error('raw workflows were not all started before the first was due');
    await until(() => lateness.length >= count, `${count} raw arrivals`, 3 * 60 * 60_000, 500);
    return summarise(lateness, spreadSeconds);
  } finally {
    await env.close();
  }
}

function summarise(lateness: number[], dueSpreadSeconds: number): Lateness {
  return {
    count: lateness.length,
    dueSpreadSeconds: round(dueSpreadSeconds, 1),
    p50: round(percentile(lateness, 50), 3),
    p99: round(percentile(lateness, 99), 3),
    max: round(percentile(lateness, 100), 3),
    samples: lateness.map((l) => round(l, 3)),
  };
}

/** Enrols the leads in even slices, one every two seconds, over `seconds`. */
async function enrolPaced(api: Api, sequenceId: string, leadIds: string[], seconds: number) {
  const slices = Math.max(1, Math.floor(seconds / 2));
  const size = Math.ceil(leadIds.length / slices);
  const began = Date.now();
  for (let i = 0; i * size < leadIds.length; i++) {
    const wait = began + i * 2_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await enrolAll(api, sequenceId, leadIds.slice(i * size, (i + 1) * size));
  }
}
