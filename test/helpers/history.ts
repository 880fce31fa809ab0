import type { Client } from '@temporalio/client';
import { enrolmentWorkflowId } from '../../workflows/contract.js';

/**
 * Where an enrolment's sends ran, from its workflow's history: the task queues of the sendStep
 * activities it scheduled, and how many sendStep local activities it recorded.
 */
export async function sendsInHistory(temporal: Client, enrolmentId: string): Promise<{ queued: string[]; local: number }> {
  const events = (await temporal.workflow.getHandle(enrolmentWorkflowId(enrolmentId)).fetchHistory()).events ?? [];
  const queued = events.flatMap((e) => {
    const scheduled = e.activityTaskScheduledEventAttributes;
    return scheduled?.activityType?.name === 'sendStep' ? [scheduled.taskQueue?.name ?? ''] : [];
  });
  // A local activity's marker carries its type in the marker's details (JSON-encoded payloads).
  const local = events.filter(
    (e) =>
      e.markerRecordedEventAttributes?.markerName === 'core_local_activity' &&
      Object.values(e.markerRecordedEventAttributes.details ?? {}).some((p) =>
        (p.payloads ?? []).some((payload) =>
          Buffer.from(payload.data ?? [])
            .toString('utf8')
            .includes('"sendStep"'),
        ),
      ),
  ).length;
  return { queued, local };
}
