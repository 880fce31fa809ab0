import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outOfOfficeSignal, pauseSignal, replySignal, rescheduleSignal, resumeSignal, stopSignal } from '../../workflows/contract.js';
import {
  controlDuringFirstSend,
  DAY,
  FakeEnrolment,
  HOUR,
  sendPlanningNext,
  startWorkflowLayer,
  until,
  workflowCode,
  type Script,
  type WorkflowLayer,
} from './harness.js';

/**
 * The enrolment workflow's rare paths, the ones a fix puts behind `patched()`, as histories
 * recorded in the workflow layer: test/histories holds the service's ordinary runs, which never
 * reach these branches. Each file here must replay with today's code: a v1 file (recorded before
 * the fix) proves the old branch is still taken for a history without the patch's marker, a v2
 * file that the new branch replays. `RECORD_HISTORIES=1 HISTORY_VERSION=v2 npx vitest run
 * test/workflow/replay.test.ts` records them again; keep the old files.
 */
const dir = path.join('test', 'workflow', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded histories of the enrolment workflow’s rare paths', () => {
  it('exist', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays with today’s workflow code', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
    await Worker.runReplayHistory(workflowCode(), history, file);
  });
});

describe.runIf(process.env.RECORD_HISTORIES)('recording the rare paths', () => {
  const version = process.env.HISTORY_VERSION ?? 'v1';
  let layer: WorkflowLayer;
  beforeAll(async () => {
    layer = await startWorkflowLayer();
    mkdirSync(dir, { recursive: true });
  });
  afterAll(() => layer?.stop());

  const enrolled = async (delays: number[], script: Script, historyBound?: number) => {
    const fake = new FakeEnrolment(delays, script);
    return { fake, handle: await layer.enrol(fake, { historyBound }) };
  };
  /** Every run of the workflow, first to last, each in its own file. */
  async function save(name: string, workflowId: string, firstRunId: string) {
    let runId: string | null | undefined = firstRunId;
    for (let run = 1; runId; run++) {
      const history = await layer.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      writeFileSync(path.join(dir, `${version}-${name}-run${run}.json`), historyToJSON(history));
      runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    }
  }

  it('a pause update accepted during the send that crosses the history bound, then a resume', async () => {
    const during = controlDuringFirstSend('pause', 'paused');
    const { fake, handle } = await enrolled([0, DAY], during.script, 1);
    await until(() => fake.sends().length === 1 && during.answer() !== undefined, 'the send');
    await layer.env.sleep(HOUR);
    // Before the fix the update waits for ever, until a resume makes the status the recorded one again.
    await handle.signal(resumeSignal);
    await during.answer();
    await handle.result();
    await save('pause-update-at-the-bound', handle.workflowId, handle.firstExecutionRunId);
  });

  it('a second stop, with another reason, before the first is recorded', async () => {
    const { handle } = await enrolled([0, DAY], {
      send: async (input, n, self) => {
        if (n === 0) {
          await self.handle!.signal(stopSignal, { reason: 'the deal closed' });
          await self.handle!.signal(stopSignal, { reason: 'archived' });
        }
        return { outcome: 'sent', messageId: 'm', sentAt: input.now };
      },
    });
    await handle.result();
    await save('second-stop', handle.workflowId, handle.firstExecutionRunId);
  });

  it('a postponed send that crosses the history bound', async () => {
    const { handle } = await enrolled(
      [0],
      {
        send: (input, n) =>
          n > 0
            ? { outcome: 'sent', messageId: 'm', sentAt: input.now }
            : { outcome: 'postponed', until: new Date(Date.parse(input.now) + 6 * HOUR).toISOString(), reason: 'the daily cap is reached' },
      },
      1,
    );
    await handle.result();
    await save('postponed-at-the-bound', handle.workflowId, handle.firstExecutionRunId);
  });

  it('out-of-office waits: one ends by itself, one is carried across the history bound, one ends with a reply', async () => {
    const { fake, handle } = await enrolled(
      [0, DAY, DAY, 20 * DAY],
      {
        onReply: 'continue',
        send: async (input, n, self) => {
          // During the second send (crossing the bound): a wait the next run must carry.
          if (n === 1) await self.handle!.signal(outOfOfficeSignal, { until: new Date(Date.parse(input.now) + 4 * DAY).toISOString() });
          return { outcome: 'sent', messageId: `m-${input.stepId}`, sentAt: input.now };
        },
      },
      1,
    );
    await until(() => fake.sends().length === 1 && fake.plans.length === 2, 'the first send');
    await handle.signal(outOfOfficeSignal, { until: new Date((await layer.env.currentTimeMs()) + 3 * DAY).toISOString() });
    await until(() => fake.statuses().includes('paused'), 'the first wait recorded');
    await layer.env.sleep(4 * DAY); // the first wait ends, the second send carries the second wait
    await until(() => fake.sends().length === 2, 'the second send');
    await layer.env.sleep(6 * DAY); // the second wait ends in the next run
    await until(() => fake.sends().length === 3 && fake.plans.length === 5, 'the third send and the next plan');
    await handle.signal(outOfOfficeSignal, { until: new Date((await layer.env.currentTimeMs()) + 9 * DAY).toISOString() });
    await until(() => fake.statuses().filter((s) => s === 'paused').length === 3, 'the third wait recorded');
    await handle.signal(replySignal);
    await handle.result();
    await save('out-of-office-waits', handle.workflowId, handle.firstExecutionRunId);
  });

  it('a resume after the next step fell due during the pause', async () => {
    const { fake, handle } = await enrolled([0, DAY], {});
    await until(() => fake.sends().length === 1 && fake.plans.length === 2, 'the first send');
    await handle.signal(pauseSignal);
    await until(() => fake.statuses().includes('paused'), 'the pause recorded');
    await layer.env.sleep(3 * DAY);
    await handle.signal(resumeSignal);
    await handle.result();
    await save('resume-after-due', handle.workflowId, handle.firstExecutionRunId);
  });

  it('sends that answer what follows them: an edit during one, a pause after one, the last completing', async () => {
    const { fake, handle } = await enrolled(
      [0, DAY, DAY, DAY],
      {
        send: async (input, n, self) => {
          if (n === 1) await self.handle!.signal(rescheduleSignal);
          return sendPlanningNext(input, n, self);
        },
      },
      12,
    );
    await layer.env.sleep(2 * DAY + HOUR);
    await until(() => fake.sends().length === 3, 'the third send');
    await handle.signal(pauseSignal);
    await until(() => fake.statuses().includes('paused'), 'the pause recorded');
    await handle.signal(resumeSignal);
    await handle.result();
    await save('send-plans-next', handle.workflowId, handle.firstExecutionRunId);
  });
});
