import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailerFor } from '../activities/index.js';
import type { Mailer } from '../activities/mailer.js';
import { createPlanNextStep } from '../activities/plan-next-step.js';
import { createSendStep } from '../activities/send-email.js';
import { enrolmentEvents, enrolments, leads } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';

type Fixture = Awaited<ReturnType<typeof asNewAccount>>;
import { logger, startServiceWithSink, type ServiceWithSink } from './helpers/service.js';

// The send answers what follows its email and writes it (activities/send-email.ts): the next
// plan, or the completion. Driven here by the activities alone, on an enrolment row with no
// workflow, so that something can happen while the email is at the provider.

let started: ServiceWithSink | undefined;
beforeAll(async () => {
  started = await startServiceWithSink();
});
afterAll(() => started?.stop());

/** A one-step sequence's enrolment, planned, and a send whose provider runs `during` before it accepts. */
type During = (meanwhile: { sequenceId: string; leadId: string; api: Fixture['api'] }) => Promise<void>;
async function lastEmailWith(during: During = async () => {}) {
  const { service } = started!;
  const db = service.database.db;
  const fixture = await asNewAccount(service);
  const sequence = await fixture.createSequence({ steps: [{ subject: 'Only', body: 'Hi' }] });
  const lead = await fixture.createLead();
  const enrolmentId = randomUUID();
  await db.insert(enrolments).values({
    id: enrolmentId,
    accountId: fixture.account.id,
    sequenceId: sequence.id,
    leadId: lead.id,
    replyToken: randomUUID().replace(/-/g, ''),
  });
  const plan = await createPlanNextStep({ db })({ enrolmentId, previousAt: new Date().toISOString() });
  const provider = mailerFor(service.config, logger);
  const mailer: Mailer = {
    async send(email) {
      await during({ sequenceId: sequence.id, leadId: lead.id, api: fixture.api });
      return provider.send(email);
    },
  };
  const send = createSendStep({ db, config: service.config, logger, mailer, temporal: service.temporal });
  const outcome = await send({ enrolmentId, stepId: plan.next!.stepId, now: new Date().toISOString() });
  const [row] = await db.select().from(enrolments).where(eq(enrolments.id, enrolmentId));
  const events = await db.select().from(enrolmentEvents).where(eq(enrolmentEvents.enrolmentId, enrolmentId));
  return { outcome, row: row!, events };
}

describe('the last email of a sequence', () => {
  it('completes the enrolment in the statement that marks it sent, and says so', async () => {
    const { outcome, row, events } = await lastEmailWith();
    expect(outcome).toMatchObject({ outcome: 'sent', following: { completed: { reason: 'all steps sent' } } });
    expect(row).toMatchObject({ status: 'completed', endedReason: 'all steps sent', nextStepId: null, nextDueAt: null });
    const completion = events.filter((e) => e.type === 'status_changed');
    expect(completion).toMatchObject([{ fromStatus: 'active', toStatus: 'completed' }]);
    // After the email's own event on the timeline.
    const sentEvent = events.find((e) => e.type === 'email_sent')!;
    expect(completion[0]!.createdAt.getTime()).toBeGreaterThanOrEqual(sentEvent.createdAt.getTime());
  });

  it('leaves the enrolment active, and answers nothing to follow, when a step was added while it went', async () => {
    const { outcome, row } = await lastEmailWith(async ({ sequenceId, api }) => {
      const added = await api('POST', `/v1/sequences/${sequenceId}/steps`, {
        subject: 'Added',
        body: 'Hi',
        delay: { amount: 1, unit: 'days' },
      });
      expect(added.status).toBe(201);
    });
    expect(outcome).toMatchObject({ outcome: 'sent' });
    expect(outcome.outcome === 'sent' && outcome.following).toBeFalsy();
    expect(row.status).toBe('active');
  });

  it('leaves the enrolment active when the lead unsubscribed while it went', async () => {
    const { outcome, row } = await lastEmailWith(async ({ leadId }) => {
      await started!.service.database.db.update(leads).set({ unsubscribedAt: new Date() }).where(eq(leads.id, leadId));
    });
    expect(outcome.outcome === 'sent' && outcome.following).toBeFalsy();
    expect(row.status).toBe('active');
  });
});
