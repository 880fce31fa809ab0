import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporalCliPath } from '../temporal/binaries.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, startService, type TestService } from './helpers/service.js';

/** The exact commands of RUNBOOK.md, run with the real CLI against the test run's dev server. */
const run = promisify(execFile);
let service: TestService;
beforeAll(async () => {
  service = await startService();
});
afterAll(() => service.stop());

async function temporal(...args: string[]) {
  const { stdout } = await run(temporalCliPath()!, [...args, '--output', 'json'], {
    env: { ...process.env, TEMPORAL_ADDRESS: service.config.TEMPORAL_ADDRESS! },
  });
  return stdout.trim() ? JSON.parse(stdout) : undefined;
}

async function waitingEnrolment() {
  const fixture = await asNewAccount(service);
  const sequence = await fixture.createSequence({ steps: [{}, { delay: { amount: 2, unit: 'days' }, subject: 'Second step' }] });
  const lead = await fixture.createLead();
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  await eventually(async () => (await fixture.sentMessages(enrolment.id)).length === 1);
  return { ...fixture, sequence, lead, enrolment, workflowId: `enrolment-${enrolment.id}` };
}

describe('the support runbook', () => {
  it('finds a lead’s enrolments and a sequence’s paused ones by search attribute', async () => {
    const { lead, sequence, workflowId, api, enrolment } = await waitingEnrolment();
    const byLead = await eventually(
      async () => {
        const rows = await temporal('workflow', 'list', '--query', `LeadId = '${lead.id}'`);
        return rows?.length === 1 && rows;
      },
      { what: 'the lead’s enrolment visible' },
    );
    expect(byLead[0].execution.workflowId).toBe(workflowId);
    await api('POST', `/v1/enrolments/${enrolment.id}/pause`);
    const paused = await eventually(
      async () => {
        const rows = await temporal('workflow', 'list', '--query', `SequenceId = '${sequence.id}' AND EnrolmentStatus = 'paused'`);
        return rows?.length === 1 && rows;
      },
      { what: 'the paused enrolment visible' },
    );
    expect(paused[0].execution.workflowId).toBe(workflowId);
  });

  it('reads an enrolment’s state with a query', async () => {
    const { workflowId } = await waitingEnrolment();
    const answer = await temporal('workflow', 'query', '--workflow-id', workflowId, '--type', 'state');
    expect(answer.queryResult[0]).toMatchObject({ status: 'active', sentCount: 1, nextStep: { number: 2, of: 2, subject: 'Second step' } });
  });

  it('pauses, resumes and stops with signals, and the database follows', async () => {
    const { workflowId, enrolment, waitForStatus } = await waitingEnrolment();
    await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'pause');
    await waitForStatus(enrolment.id, 'paused', 5_000);
    await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'resume');
    await waitForStatus(enrolment.id, 'active', 5_000);
    await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'stop');
    const row = await waitForStatus(enrolment.id, 'stopped', 5_000);
    expect(row.endedReason).toBe('stopped by a user');
  });
});
