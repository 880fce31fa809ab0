import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPlanNextStep } from '../activities/plan-next-step.js';
import { createSendStep } from '../activities/send-email.js';
import { mailerFor } from '../activities/index.js';
import { enrolmentEvents, enrolments, sequences, stepVariants, variantAssignments } from '../db/schema.js';
import { chooseVariant, inHoldout } from '../domain/experiment.js';
import { REASONS } from '../domain/enrolment-status.js';
import { enrolmentWorkflowId, stateQuery } from '../workflows/contract.js';
import { enrolAll, importLeads } from './helpers/chaos.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, logger, type TestService } from './helpers/service.js';
import { startTimeSkippingService } from './helpers/time-skipping.js';

// Issue 20: what an experiment does to enrolments as they run, on the time-skipping server so the
// days between steps pass. The variants are written as the API writes them; the API's own rules
// (labels, moves, refusals) are specified in test/experiment-variants-api.test.ts.

let env: TestWorkflowEnvironment;
let service: TestService;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ env, service, stop } = await startTimeSkippingService());
});
afterAll(() => stop?.());

const DAY = 24 * 3_600_000;
const db = () => service.database.db;

/**
 * A three-step sequence, two days apart (or `daysApart`), whose step `experimentOn` (0-based) has
 * the variants given.
 */
async function experimentSequence(
  variants: { subject: string; weight?: number }[],
  options: { experimentOn?: number; holdoutPercent?: number; daysApart?: number } = {},
) {
  const fixture = await asNewAccount(service);
  const apart = options.daysApart ?? 2;
  const sequence = await fixture.createSequence({
    // Each step a new email: a reply in the thread keeps the thread's subject, and these
    // experiments compare subjects.
    steps: [0, apart, apart].map((days, i) => ({ subject: `Step ${i + 1}`, delay: { amount: days, unit: 'days' }, inThread: false })),
  });
  const step = sequence.steps[options.experimentOn ?? 0]!;
  const rows = await db()
    .insert(stepVariants)
    .values(
      variants.map((v, i) => ({
        accountId: fixture.account.id,
        stepId: step.id,
        label: 'ABCDE'[i]!,
        subject: v.subject,
        body: `Body of ${v.subject}`,
        weight: v.weight ?? 1,
      })),
    )
    .returning();
  if (options.holdoutPercent)
    await db().update(sequences).set({ holdoutPercent: options.holdoutPercent }).where(eq(sequences.id, sequence.id));
  return { fixture, sequence, step, variants: rows };
}

async function assignmentOf(enrolmentId: string, stepId: string) {
  const [row] = await db()
    .select()
    .from(variantAssignments)
    .where(and(eq(variantAssignments.enrolmentId, enrolmentId), eq(variantAssignments.stepId, stepId)));
  return row;
}

describe('a lead enrolled in a sequence whose step has variants', () => {
  it('gets the variant its enrolment hashes to, stored at the first plan, and the email says which went', async () => {
    const { fixture, sequence, step, variants } = await experimentSequence(
      [{ subject: 'Quick question' }, { subject: 'An idea for you' }],
      {
        experimentOn: 1,
      },
    );
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    const expected = chooseVariant(enrolment.id, step.id, variants)!;
    const handle = env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id));
    // Step 1 went; step 2, two days off, is planned: its variant is chosen and named before it goes.
    const planned = await eventually(async () => {
      const state = await handle.query(stateQuery);
      return state.sentCount === 1 && state.nextStep?.stepId === step.id ? state.nextStep : undefined;
    });
    expect(planned.variant).toEqual({ id: expected.id, label: expected.label });
    // The Temporal UI's current details name the variant too.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain(`Step 2 of 3 (variant ${expected.label})`);
    expect(planned.subject).toBe(expected.subject);
    expect((await assignmentOf(enrolment.id, step.id))?.variantId).toBe(expected.id);

    await env.sleep(5 * DAY);
    await handle.result();
    const sent = await fixture.sentMessages(enrolment.id);
    expect(sent.map((m) => m.subject)).toEqual(['Step 1', expected.subject, 'Step 3']);
    expect(sent.map((m) => m.variantId)).toEqual([null, expected.id, null]);
    const [event] = await db()
      .select()
      .from(enrolmentEvents)
      .where(and(eq(enrolmentEvents.enrolmentId, enrolment.id), eq(enrolmentEvents.type, 'email_sent')))
      .then((events) => events.filter((e) => e.detail.stepId === step.id));
    expect(event?.detail).toMatchObject({ variantId: expected.id, variant: expected.label });
    // The run replays with today's code: the choice lives in the plan's recorded result.
    const history = await handle.fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: { code: readFileSync(inject('workflowBundlePath'), 'utf8') } }, history);
  }, 120_000);

  it('gets the same variant from a retried plan and a retried send, and one email', async () => {
    const { fixture, sequence, step } = await experimentSequence(
      [{ subject: 'One' }, { subject: 'Two' }, { subject: 'Three' }, { subject: 'Four' }, { subject: 'Five' }],
      { experimentOn: 0 },
    );
    // The enrolment row as the API writes it, driven by its activities alone (no workflow).
    const lead = await fixture.createLead();
    const id = randomUUID();
    await db()
      .insert(enrolments)
      .values({ id, accountId: fixture.account.id, sequenceId: sequence.id, leadId: lead.id, replyToken: randomUUID().replace(/-/g, '') });
    const plan = createPlanNextStep({ db: db() });
    const previousAt = new Date().toISOString();
    const plans = await Promise.all([plan({ enrolmentId: id, previousAt }), plan({ enrolmentId: id, previousAt })]);
    expect(plans[1]!.next?.variant).toEqual(plans[0]!.next?.variant);
    expect((await plan({ enrolmentId: id, previousAt })).next?.variant).toEqual(plans[0]!.next?.variant);
    const send = createSendStep({
      db: db(),
      config: service.config,
      logger,
      mailer: mailerFor(service.config, logger),
      temporal: service.temporal,
    });
    const now = new Date().toISOString();
    const first = await send({ enrolmentId: id, stepId: step.id, now });
    const again = await send({ enrolmentId: id, stepId: step.id, now });
    // The retry answers the same email; what follows it was written by the first (the workflow
    // of a retry whose first answer was lost plans again).
    expect(first.outcome === 'sent' && first.following).toBeTruthy();
    expect(again).toEqual({ ...first, following: undefined });
    const sent = await fixture.sentMessages(id);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.variantId).toBe(plans[0]!.next!.variant!.id);
  }, 60_000);

  it('keeps its assignment when the weights change before the email goes (an assignment is never recomputed)', async () => {
    const { fixture, sequence, step, variants } = await experimentSequence([{ subject: 'First' }, { subject: 'Second' }], {
      experimentOn: 1,
    });
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    const planned = await eventually(async () => assignmentOf(enrolment.id, step.id));
    const other = variants.find((v) => v.id !== planned.variantId)!;
    // Every new assignment would now go to the other variant.
    await db().update(stepVariants).set({ weight: 100 }).where(eq(stepVariants.id, other.id));
    await db().update(stepVariants).set({ weight: 1 }).where(eq(stepVariants.id, planned.variantId));
    await env.sleep(5 * DAY);
    await env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    const sent = await fixture.sentMessages(enrolment.id);
    expect(sent.find((m) => m.stepId === step.id)?.variantId).toBe(planned.variantId);
  }, 120_000);

  it('sends a variant’s content as edited after it was planned, while what was sent keeps what it said', async () => {
    const { fixture, sequence, step, variants } = await experimentSequence([{ subject: 'Before the edit' }, { subject: 'Also before' }], {
      experimentOn: 1,
    });
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    const planned = await eventually(async () => assignmentOf(enrolment.id, step.id));
    const variant = variants.find((v) => v.id === planned.variantId)!;
    await db()
      .update(stepVariants)
      .set({ subject: `${variant.subject}, edited` })
      .where(eq(stepVariants.id, variant.id));
    await env.sleep(5 * DAY);
    await env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    const sent = await fixture.sentMessages(enrolment.id);
    expect(sent.find((m) => m.stepId === step.id)?.subject).toBe(`${variant.subject}, edited`);
    expect(sent[0]!.subject).toBe('Step 1');
  }, 120_000);

  it('goes as another variant, by the same deterministic move, when its own was stopped before the email went', async () => {
    const { fixture, sequence, step, variants } = await experimentSequence([{ subject: 'One' }, { subject: 'Two' }, { subject: 'Three' }], {
      experimentOn: 1,
    });
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    const planned = await eventually(async () => assignmentOf(enrolment.id, step.id));
    await db()
      .update(stepVariants)
      .set({ status: 'stopped', endedReason: 'stopped by a test' })
      .where(eq(stepVariants.id, planned.variantId));
    const after = variants.map((v) => (v.id === planned.variantId ? { ...v, status: 'stopped' as const } : v));
    const expected = chooseVariant(enrolment.id, step.id, after, planned.variantId)!;
    await env.sleep(5 * DAY);
    await env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    const sent = await fixture.sentMessages(enrolment.id);
    expect(sent.find((m) => m.stepId === step.id)?.variantId).toBe(expected.id);
    const moved = await assignmentOf(enrolment.id, step.id);
    expect(moved).toMatchObject({ variantId: expected.id });
    expect(moved?.movedAt).toBeInstanceOf(Date);
  }, 120_000);
});

describe('1,000 leads enrolled in a step with weighted variants', () => {
  it('are assigned in proportion to the weights, each share within 4 standard deviations, each as the rule chose', async () => {
    const { fixture, sequence, step, variants } = await experimentSequence(
      [
        { subject: 'Half', weight: 50 },
        { subject: 'Three tenths', weight: 30 },
        { subject: 'A fifth', weight: 20 },
      ],
      // A year off: the days the later tests of this file skip must not send 2,000 follow-ups.
      { experimentOn: 1, daysApart: 365 },
    );
    await enrolAll(fixture, sequence.id, await importLeads(fixture, 1000, `weights-${sequence.id}`));
    // Step 1 goes to all of them; step 2, a year off, is planned, which assigns its variant.
    const assignments = await eventually(
      async () => {
        const rows = await db().select().from(variantAssignments).where(eq(variantAssignments.stepId, step.id));
        return rows.length === 1000 ? rows : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1_000, what: '1,000 assignments' },
    );
    for (const a of assignments) expect(a.variantId).toBe(chooseVariant(a.enrolmentId, step.id, variants)!.id);
    for (const v of variants) {
      const expected = v.weight / 100;
      const observed = assignments.filter((a) => a.variantId === v.id).length / 1000;
      const fourSd = 4 * Math.sqrt((expected * (1 - expected)) / 1000);
      console.log(`[figures] variant ${v.label} (weight ${v.weight}): ${(observed * 100).toFixed(1)} % of 1,000 assigned`);
      expect(Math.abs(observed - expected), `variant ${v.label}`).toBeLessThan(fourSd);
    }
  }, 400_000);
});

describe('a sequence with a holdout', () => {
  it('sends its held-out enrolments step 1 and no follow-up, and every other enrolment all three steps', async () => {
    const { fixture, sequence } = await experimentSequence([{ subject: 'A' }, { subject: 'B' }], { holdoutPercent: 50 });
    const enrolled = [];
    for (let i = 0; i < 12; i++) enrolled.push(await fixture.enrolLead(sequence.id, (await fixture.createLead()).id));
    await env.sleep(5 * DAY);
    for (const enrolment of enrolled) await env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    let held = 0;
    for (const enrolment of enrolled) {
      const row = await fixture.enrolmentRow(enrolment.id);
      const sent = await fixture.sentMessages(enrolment.id);
      const heldOut = inHoldout(enrolment.id, 50);
      expect(row.holdout, enrolment.id).toBe(heldOut);
      expect(row.status).toBe('completed');
      if (heldOut) {
        held++;
        expect(sent).toHaveLength(1);
        expect(row.endedReason).toBe(REASONS.heldOut);
      } else {
        expect(sent).toHaveLength(3);
        expect(row.endedReason).toBe(REASONS.allStepsSent);
      }
    }
    // Twelve enrolments at 50 %: the case where none or all are held out proves nothing.
    expect(held, 'a mix of held-out and followed-up enrolments').toBeGreaterThan(0);
    expect(held).toBeLessThan(enrolled.length);
  }, 180_000);

  it('keeps an enrolment’s decision when the share changes later', async () => {
    const { fixture, sequence } = await experimentSequence([{ subject: 'A' }, { subject: 'B' }], { holdoutPercent: 50 });
    const enrolment = await fixture.enrolLead(sequence.id, (await fixture.createLead()).id);
    const { holdout: decided } = await eventually(async () => {
      const row = await fixture.enrolmentRow(enrolment.id);
      return row.holdout === null ? undefined : { holdout: row.holdout };
    });
    await db()
      .update(sequences)
      .set({ holdoutPercent: decided ? 0 : 100 })
      .where(eq(sequences.id, sequence.id));
    await env.sleep(5 * DAY);
    await env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    expect(await fixture.sentMessages(enrolment.id)).toHaveLength(decided ? 1 : 3);
    const [row] = await db().select().from(enrolments).where(eq(enrolments.id, enrolment.id));
    expect(row!.holdout).toBe(decided);
  }, 120_000);
});
