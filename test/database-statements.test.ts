import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseStatements } from '../metrics.js';
import { enrolmentWorkflowId } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startServiceWithSink, type ServiceWithSink } from './helpers/service.js';

// Every statement is a round trip taken from the worker's one thread (bench/README.md): what one
// email costs is a budget, counted rather than timed, so it holds on any machine. Lower it when a
// change saves a statement; a change that needs one more says why here.
const ONE_STEP_EMAIL_BUDGET = 5;
// A follow-up in the thread of the email before it: the context, the provider asked for the
// Message-ID that email went out with (written down once), the context again, the email stored
// and marked sent.
const THREADED_FOLLOW_UP_BUDGET = 5;

let started: ServiceWithSink | undefined;
beforeAll(async () => {
  started = await startServiceWithSink();
});
afterAll(() => started?.stop());

/** The statements each activity has sent so far in this process. */
async function statementsByActivity(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await databaseStatements.get()).values) {
    const activity = String(v.labels.activity);
    if (activity !== 'none') counts[activity] = v.value;
  }
  return counts;
}

const minus = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).flatMap(([a, n]) => (n > (before[a] ?? 0) ? [[a, n - (before[a] ?? 0)]] : [])));

/** Enrols a new lead and waits for the workflow to finish; the worker's statements meanwhile, by activity. */
async function statementsOfEnrolment(fixture: Awaited<ReturnType<typeof asNewAccount>>, sequenceId: string) {
  const { service } = started!;
  const lead = await fixture.createLead({ firstName: 'Grace' });
  const before = await statementsByActivity();
  const enrolment = await fixture.enrolLead(sequenceId, lead.id);
  await fixture.waitForStatus(enrolment.id, 'completed');
  // The send writes the completion with the email; what it does after (the portal's
  // announcement) is done once the workflow has its answer.
  await service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
  await new Promise((r) => setTimeout(r, 500));
  const byActivity = minus(await statementsByActivity(), before);
  return { lead, byActivity, total: Object.values(byActivity).reduce((a, b) => a + b, 0) };
}

describe('a one-step email', () => {
  it(`costs the worker at most ${ONE_STEP_EMAIL_BUDGET} PostgreSQL statements, from its first plan to its completion`, async () => {
    const { service, sink } = started!;
    const fixture = await asNewAccount(service, { senderName: 'Sam', companyName: 'Acme', postalAddress: '1 Main St' });
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Hello {{ first_name }}', body: 'Hi {{ first_name }}' }] });
    // A first enrolment warms up what is done once per process (postgres.js asks for the types once).
    for (const warm of [true, false]) {
      const { lead, byActivity, total } = await statementsOfEnrolment(fixture, sequence.id);
      if (warm) continue;
      console.log(`[figures] one-step email: ${total} worker statements`, byActivity);
      expect(sink.emails.filter((e) => e.payload.to === lead.email)).toHaveLength(1);
      // The first plan and the send; the send answers what follows it (here the completion), so
      // neither a plan nor a status write comes after it.
      expect(Object.keys(byActivity).sort()).toEqual(['planNextStep', 'sendStep']);
      expect(total).toBeLessThanOrEqual(ONE_STEP_EMAIL_BUDGET);
    }
  });
});

describe('follow-ups in the thread of the first email', () => {
  it(`cost the worker at most ${THREADED_FOLLOW_UP_BUDGET} PostgreSQL statements each`, async () => {
    const { service, sink } = started!;
    const fixture = await asNewAccount(service, { senderName: 'Sam', companyName: 'Acme', postalAddress: '1 Main St' });
    const now = { amount: 0, unit: 'minutes' };
    const sequence = await fixture.createSequence({ steps: [{ delay: now }, { delay: now }, { delay: now }] });
    await statementsOfEnrolment(fixture, sequence.id); // warms up the statements a thread adds
    const { lead, byActivity, total } = await statementsOfEnrolment(fixture, sequence.id);
    console.log(`[figures] three-step threaded enrolment: ${total} worker statements`, byActivity);
    const received = sink.emails.filter((e) => e.payload.to === lead.email);
    expect(received).toHaveLength(3);
    // Each follow-up went as a reply in the first email's thread.
    for (const followUp of received.slice(1)) expect(String(followUp.payload.subject)).toMatch(/^Re: /);
    // The first email: its plan (2) and its send (3); then the follow-ups, on budget.
    expect(total).toBeLessThanOrEqual(5 + 2 * THREADED_FOLLOW_UP_BUDGET);
  });
});
