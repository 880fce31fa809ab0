import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { and, eq, inArray } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolments, messages } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, type TestService } from './helpers/service.js';
import { startTimeSkippingService } from './helpers/time-skipping.js';

// Issue 18's caps that protect the recipient side: per recipient domain a day (a free-mail address
// on its own) and new leads a day per sequence (follow-ups never held). An email over a cap waits
// for the next day, in the order it waited, never dropped. On the time-skipping server: the days pass.

let env: TestWorkflowEnvironment;
let service: TestService;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ env, service, stop } = await startTimeSkippingService());
});
afterAll(() => stop?.());

type Fixture = Awaited<ReturnType<typeof asNewAccount>>;
const db = () => service.database.db;

const rows = (ids: string[]) => db().select().from(enrolments).where(inArray(enrolments.id, ids));
const firstEmails = (ids: string[]) =>
  db()
    .select()
    .from(messages)
    .where(and(inArray(messages.enrolmentId, ids), eq(messages.firstOfEnrolment, true)))
    .orderBy(messages.createdAt);

/** The enrolments once `held` of them wait for `cause`, in the order their caps' queue releases them. */
async function queued(ids: string[], cause: string, held: number) {
  return eventually(
    async () => {
      const waiting = (await rows(ids)).filter((e) => e.waitingFor?.cause === cause);
      if (waiting.length !== held) return undefined;
      return waiting.sort(
        (a, b) => Date.parse((a.waitingFor as { until: string }).until) - Date.parse((b.waitingFor as { until: string }).until),
      );
    },
    { what: `${held} enrolments waiting for ${cause}` },
  );
}

/** Lets the test server's clock run to `at` (the workflows' time). */
async function skipTo(at: DateTime) {
  await env.sleep(Math.max(1, at.toMillis() - (await env.currentTimeMs())));
}

async function enrolAll(fixture: Fixture, sequenceId: string, emails: string[]) {
  const ids: string[] = [];
  for (const email of emails) ids.push((await fixture.enrolLead(sequenceId, (await fixture.createLead({ email })).id)).id);
  return ids;
}

describe('the recipient-domain cap', () => {
  it('holds a company domain’s emails over the cap for the next day and releases them in the order they waited', async () => {
    const acme = await asNewAccount(service, { timezone: 'UTC' });
    expect((await acme.api('PATCH', '/v1/account', { recipientDomainDailyCap: 2 })).body.recipientDomainDailyCap).toBe(2);
    const sequence = await acme.createSequence();
    const tag = Math.random().toString(36).slice(2, 8);
    const ids = await enrolAll(
      acme,
      sequence.id,
      [1, 2, 3, 4, 5].map((i) => `ann${i}-${tag}@mail.bigco-${tag}.co.uk`),
    );
    // A free-mail address is its own recipient: never held by the company's count.
    const [gmail] = await enrolAll(acme, sequence.id, [`ann-${tag}@gmail.com`]);
    await acme.waitForStatus(gmail!, 'completed');

    const today = DateTime.fromMillis(await env.currentTimeMs(), { zone: 'UTC' }).startOf('day');
    const waiting = await queued(ids, 'domain_cap', 3);
    expect(await firstEmails(ids)).toHaveLength(2);
    const tomorrow = today.plus({ days: 1 });
    expect(waiting.map((e) => e.waitingFor)).toEqual(
      [0, 1, 2].map((i) => ({
        cause: 'domain_cap',
        domain: `bigco-${tag}.co.uk`,
        cap: 2,
        until: tomorrow.plus({ seconds: i }).toISO({ suppressMilliseconds: false }),
        queue: `recipient:domain:bigco-${tag}.co.uk`,
      })),
    );
    const answer = (await acme.api('GET', `/v1/enrolments/${waiting[0]!.id}`)).body.waitingFor;
    expect(answer).toEqual({ cause: 'domain_cap', domain: `bigco-${tag}.co.uk`, cap: 2, until: waiting[0]!.nextDueAt!.toISOString() });

    // The next day: the first two in line go, in that order; the third waits its turn again.
    await skipTo(tomorrow.plus({ hours: 1 }));
    const sent = await eventually(async () => ((await firstEmails(ids)).length === 4 ? firstEmails(ids) : undefined), {
      what: 'two more sent',
    });
    expect(sent.slice(2).map((m) => m.enrolmentId)).toEqual([waiting[0]!.id, waiting[1]!.id]);
    const [last] = await queued([waiting[2]!.id], 'domain_cap', 1);
    expect((last!.waitingFor as { until: string }).until).toBe(tomorrow.plus({ days: 1 }).toISO({ suppressMilliseconds: false }));
    await skipTo(tomorrow.plus({ days: 1, hours: 1 }));
    await eventually(async () => (await firstEmails(ids)).length === 5, { what: 'the last sent' });
  }, 180_000);
});

describe('the new-leads cap of a sequence', () => {
  it('starts at most its number of new leads a day, lets follow-ups go, and starts the rest the next day in order', async () => {
    const acme = await asNewAccount(service, { timezone: 'UTC' });
    const res = await acme.api('POST', '/v1/sequences', {
      name: 'Capped',
      newLeadsPerDay: 2,
      steps: [
        { subject: 'Hello', body: 'Hi', delay: { amount: 0, unit: 'minutes' } },
        { subject: 'Again', body: 'Hi again', delay: { amount: 10, unit: 'minutes' }, inThread: false },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body.newLeadsPerDay).toBe(2);
    const ids = await enrolAll(
      acme,
      res.body.id,
      [1, 2, 3, 4, 5].map((i) => `lead${i}-${Math.random()}@example.com`),
    );
    const today = DateTime.fromMillis(await env.currentTimeMs(), { zone: 'UTC' }).startOf('day');
    const waiting = await queued(ids, 'new_leads_cap', 3);
    const started = (await firstEmails(ids)).map((m) => m.enrolmentId!);
    expect(started).toHaveLength(2);
    // The two started get their follow-up ten minutes later, whatever the cap.
    await env.sleep(11 * 60_000);
    for (const id of started) await eventually(async () => (await acme.sentMessages(id)).length === 2, { what: `${id}'s follow-up` });
    expect(waiting[0]!.waitingFor).toMatchObject({ cause: 'new_leads_cap', cap: 2 });

    const tomorrow = today.plus({ days: 1 });
    await skipTo(tomorrow.plus({ hours: 1 }));
    const sent = await eventually(async () => ((await firstEmails(ids)).length === 4 ? firstEmails(ids) : undefined), {
      what: 'two more started',
    });
    expect(sent.slice(2).map((m) => m.enrolmentId)).toEqual([waiting[0]!.id, waiting[1]!.id]);
    expect((await rows([waiting[2]!.id]))[0]!.waitingFor).toMatchObject({ cause: 'new_leads_cap' });
  }, 180_000);
});
