import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { enrolments, sequences, stepVariants } from '../../db/schema.js';
import { enrolmentWorkflow } from '../../workflows/enrolment.js';
import { inHoldout } from '../../domain/experiment.js';
import { enrolmentWorkflowId } from '../../workflows/contract.js';
import { asNewAccount } from '../helpers/fixtures.js';
import { eventually, type TestService } from '../helpers/service.js';
import { startTimeSkippingService } from '../helpers/time-skipping.js';

/**
 * Records histories of real workflow runs into test/histories/, for test/replay.test.ts.
 * `npm run histories:record` after a workflow change that is behind `patched()`, keeping the old
 * files: they are what running workflows of the previous version look like.
 */
let env: TestWorkflowEnvironment;
let service: TestService;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ env, service, stop } = await startTimeSkippingService());
});
afterAll(() => stop());

const days = (amount: number) => ({ amount, unit: 'days' });
const version = process.env.HISTORY_VERSION ?? 'v1';
async function save(name: string, workflowId: string) {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  writeFileSync(path.join('test', 'histories', `${version}-${name}.json`), historyToJSON(history));
}

describe('recording histories', () => {
  it('a three-step enrolment that completes', async () => {
    const f = await asNewAccount(service);
    const seq = await f.createSequence({ steps: [{ delay: days(0) }, { delay: days(1) }, { delay: days(2) }] });
    const e = await f.enrolLead(seq.id, (await f.createLead()).id);
    await env.client.workflow.getHandle(enrolmentWorkflowId(e.id)).result();
    await save('three-steps-completed', enrolmentWorkflowId(e.id));
  });

  it('an enrolment paused, resumed, edited while waiting, then replied to', async () => {
    const f = await asNewAccount(service);
    const seq = await f.createSequence({ steps: [{ delay: days(0) }, { delay: days(2) }, { delay: days(2) }] });
    const e = await f.enrolLead(seq.id, (await f.createLead()).id);
    const handle = env.client.workflow.getHandle(enrolmentWorkflowId(e.id));
    await eventually(async () => (await handle.query<{ sentCount: number }>('state')).sentCount === 1);
    await f.api('POST', `/v1/enrolments/${e.id}/pause`);
    await f.api('POST', `/v1/enrolments/${e.id}/resume`);
    await f.api('PATCH', `/v1/sequences/${seq.id}/steps/${seq.steps[1]!.id}`, { delay: days(1) });
    await env.sleep(36 * 3_600_000);
    await eventually(async () => (await handle.query<{ sentCount: number }>('state')).sentCount === 2);
    await f.api('POST', `/v1/enrolments/${e.id}/reply`);
    expect(await handle.result()).toMatchObject({ status: 'replied' });
    await save('paused-resumed-edited-replied', enrolmentWorkflowId(e.id));
  });

  it('an experiment: a step with variants, and an enrolment held out after step 1', async () => {
    const f = await asNewAccount(service);
    const seq = await f.createSequence({ steps: [{ delay: days(0) }, { delay: days(1) }] });
    const db = service.database.db;
    await db
      .insert(stepVariants)
      .values(
        ['A', 'B'].map((label) => ({ accountId: f.account.id, stepId: seq.steps[0]!.id, label, subject: `Variant ${label}`, body: label })),
      );
    await db.update(sequences).set({ holdoutPercent: 50 }).where(eq(sequences.id, seq.id));
    // One enrolment that follows up and one held out: enrol until both are recorded.
    const seen = new Set<boolean>();
    while (seen.size < 2) {
      const e = await f.enrolLead(seq.id, (await f.createLead()).id);
      const held = inHoldout(e.id, 50);
      if (seen.has(held)) continue;
      seen.add(held);
      await env.client.workflow.getHandle(enrolmentWorkflowId(e.id)).result();
      await save(held ? 'experiment-held-out' : 'experiment-variant-steps', enrolmentWorkflowId(e.id));
    }
  });

  it('a sender retired with their enrolments moved to another, whose SenderId the next plan sets', async () => {
    const f = await asNewAccount(service);
    const ann = (await f.api('POST', '/v1/senders', { name: 'Ann Rep', email: `ann-${Date.now()}@acme.test` })).body as { id: string };
    const seq = await f.createSequence({ steps: [{ delay: days(0) }, { delay: days(1) }, { delay: days(1) }] });
    const res = await f.api('POST', `/v1/sequences/${seq.id}/enrolments`, { leadId: (await f.createLead()).id, senderId: ann.id });
    const handle = env.client.workflow.getHandle(enrolmentWorkflowId(res.body.id));
    await eventually(async () => (await handle.query<{ sentCount: number }>('state')).sentCount === 1);
    const moved = await f.api('POST', `/v1/senders/${ann.id}/retire`, { liveEnrolments: 'move', moveTo: f.account.defaultSenderId });
    expect(moved.body.moved).toBe(1);
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 3 });
    await save('sender-moved', enrolmentWorkflowId(res.body.id));
  });

  it('an enrolment started before senders (no SenderId), whose next plan sets it', async () => {
    const f = await asNewAccount(service);
    const seq = await f.createSequence({ steps: [{ delay: days(0) }, { delay: days(1) }] });
    const lead = await f.createLead();
    // Its row as migration 0008 left it (bound to the account's sender), its workflow as started then.
    const id = randomUUID();
    await service.database.db.insert(enrolments).values({
      id,
      accountId: f.account.id,
      sequenceId: seq.id,
      leadId: lead.id,
      senderId: f.account.defaultSenderId,
      replyToken: randomUUID().replace(/-/g, ''),
    });
    const handle = await env.client.workflow.start(enrolmentWorkflow, {
      workflowId: enrolmentWorkflowId(id),
      taskQueue: service.config.TEMPORAL_TASK_QUEUE,
      args: [{ enrolmentId: id }],
    });
    expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
    await save('started-before-senders', enrolmentWorkflowId(id));
  });

  it('a sequence-wide pause broadcast', async () => {
    const f = await asNewAccount(service);
    const seq = await f.createSequence({ steps: [{ delay: days(3) }] });
    await f.enrolLead(seq.id, (await f.createLead()).id);
    const res = await f.api('POST', `/v1/sequences/${seq.id}/pause`);
    await env.client.workflow.getHandle(res.body.broadcastId).result();
    await save('sequence-broadcast', res.body.broadcastId);
  });

  it('a one-off email', async () => {
    const f = await asNewAccount(service);
    const lead = await f.createLead();
    const res = await f.api('POST', `/v1/leads/${lead.id}/emails`, { subject: 'Hello', body: 'One-off' });
    await env.client.workflow.getHandle(`one-off-${res.body.id}`).result();
    await save('one-off-email', `one-off-${res.body.id}`);
  });
});
