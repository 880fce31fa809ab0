import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailerFor } from '../activities/index.js';
import { createApp } from '../api/app.js';
import { enrolmentWorkflowId, stateQuery } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, logger, type TestService } from './helpers/service.js';
import { startTimeSkippingService } from './helpers/time-skipping.js';

// Issue 17's "done when": an out-of-office reply on Monday naming the 12th, and the next step
// goes on the 13th at its window. On the time-skipping server, so the days pass; the email comes
// in as raw MIME, the enrolment is read through the API, and the workflow's own clock (its state
// query) says when a step went. The service's clock is the machine's, the workflows' the test
// server's, which runs ahead of it here: each return day is chosen so that both read it alike.

let env: TestWorkflowEnvironment;
let service: TestService;
let stop: () => Promise<void>;
/** The same service's API with an inbound secret (startTimeSkippingService takes no configuration). */
let inbound: Server | undefined;
let inboundUrl: string;
const inboundSecret = 'inbound-secret-for-out-of-office-tests';

beforeAll(async () => {
  ({ env, service, stop } = await startTimeSkippingService());
  const config = { ...service.config, INBOUND_MIME_SECRET: inboundSecret };
  const app = createApp({ config, database: service.database, temporal: service.temporal, logger, mailer: mailerFor(config, logger) });
  inbound = await new Promise<Server>((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
  inboundUrl = `http://127.0.0.1:${(inbound.address() as AddressInfo).port}/inbound/mime`;
});
afterAll(async () => {
  inbound?.closeAllConnections();
  await new Promise((resolve) => (inbound ? inbound.close(resolve) : resolve(undefined)));
  await stop?.();
});

const ZONE = 'Europe/Berlin';
const WEEKDAYS_9_TO_5 = { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };

const serverNow = async () => DateTime.fromMillis(await env.currentTimeMs(), { zone: ZONE });

/** Skips the test server's clock forward to `at`. */
async function sleepUntil(at: DateTime) {
  const ms = at.toMillis() - (await env.currentTimeMs());
  expect(ms, `${at.toISO()} is still to come`).toBeGreaterThan(0);
  await env.sleep(ms);
}

/** The first Monday after the test server's today, at 10:00 in the lead's zone. */
async function nextMondayAtTen() {
  const now = await serverNow();
  return now
    .startOf('day')
    .plus({ days: 8 - now.weekday })
    .set({ hour: 10 });
}

const ordinal = (day: number) =>
  `${day}${day % 10 === 1 && day !== 11 ? 'st' : day % 10 === 2 && day !== 12 ? 'nd' : day % 10 === 3 && day !== 13 ? 'rd' : 'th'}`;

/**
 * A corpus message (test/fixtures/inbound-samples/): its lead's address, and the message as it
 * reaches an enrolment's reply address, with a Message-ID of its own and `edits` made.
 */
function sample(name: string) {
  const file = readFileSync(new URL(`./fixtures/inbound-samples/${name}`, import.meta.url), 'utf8');
  return {
    lead: /^lead: (.*)$/m.exec(file)![1]!,
    to(replyAddress: string, edits: [string, string][]) {
      let raw = file
        .slice(file.indexOf('\n---\n') + 5)
        .replaceAll('r-Qm7xK2pL9vTa@inbound.vendor.test', replyAddress)
        .replace(/^Message-ID: .*$/im, `Message-ID: <${randomUUID()}@sample.test>`);
      for (const [text, replacement] of edits) {
        expect(raw, `${name} holds "${text}"`).toContain(text);
        raw = raw.replaceAll(text, replacement);
      }
      return raw;
    },
  };
}
const backOnThe12th = sample('outlook-en-back-on-the-12th.eml');
const gmailVacation = sample('gmail-vacation-en.eml');

/**
 * A Berlin lead enrolled at `at` (the test server's clock is moved there first) in two steps,
 * weekdays 09:00–17:00 in their zone, step 2 due a day after step 1; step 1 sent.
 */
async function enrolledAt(at: DateTime, leadEmail: string) {
  await sleepUntil(at);
  const fixture = await asNewAccount(service);
  const sequence = await fixture.createSequence({
    sendWindow: WEEKDAYS_9_TO_5,
    steps: [
      { subject: 'Step 1', delay: { amount: 0, unit: 'minutes' } },
      // A new email, so that what was sent reads by subject.
      { subject: 'Step 2', delay: { amount: 1, unit: 'days' }, inThread: false },
    ],
  });
  const lead = await fixture.createLead({ email: leadEmail, timezone: ZONE, firstName: 'Tom', lastName: 'Hughes' });
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  const handle = env.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id));
  await eventually(async () => (await handle.query(stateQuery)).sentCount === 1, { what: 'step 1 sent' });
  const { replyToken } = await fixture.enrolmentRow(enrolment.id);
  return {
    ...fixture,
    enrolment,
    handle,
    replyAddress: `r-${replyToken}@reply.example.com`,
    enrolmentNow: async () => (await fixture.api('GET', `/v1/enrolments/${enrolment.id}`)).body,
    sent: async () => (await fixture.sentMessages(enrolment.id)).map((m) => m.subject),
  };
}
type Enrolled = Awaited<ReturnType<typeof enrolledAt>>;

async function arrives(raw: string) {
  const res = await fetch(inboundUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${inboundSecret}`, 'content-type': 'message/rfc822' },
    body: raw,
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { outcome: string }).outcome).toBe('out-of-office recorded');
}

/** The enrolment as the API shows it once it waits for the lead. */
const waiting = (enrolled: Enrolled) =>
  eventually(
    async () => {
      const enrolment = await enrolled.enrolmentNow();
      return enrolment.status === 'paused' && enrolment.pausedUntil ? enrolment : undefined;
    },
    { what: 'the enrolment to wait for the lead' },
  );

/** When step 2 went, by the workflow's clock, in the lead's zone. */
async function step2SentAt(enrolled: Enrolled) {
  const state = await eventually(
    async () => {
      const s = await enrolled.handle.query(stateQuery);
      return s.sentCount === 2 ? s : undefined;
    },
    { what: 'step 2 sent' },
  );
  return DateTime.fromISO(state.lastSentAt!, { zone: ZONE });
}

/** An out-of-office from the lead, received on the test server's Monday, naming `returnDay` as "back on the 12th" does. */
async function outOfOfficeNaming(enrolled: Enrolled, returnDay: DateTime) {
  await arrives(backOnThe12th.to(enrolled.replyAddress, [['back on the 12th', `back on the ${ordinal(returnDay.day)}`]]));
}

describe('an out-of-office reply on Monday naming the 12th', () => {
  it('waits, then step 2 goes on the 13th at 09:00, the opening of its window, and not before', async () => {
    const monday = await nextMondayAtTen();
    // The Monday after: a weekday of this month or the next, a week or two after the machine's
    // today (the service reads "the 12th" as the next 12th from its own clock).
    const returnDay = monday.plus({ days: 7 }).startOf('day');
    const theThirteenth = returnDay.plus({ days: 1 });
    const enrolled = await enrolledAt(monday, backOnThe12th.lead);
    await outOfOfficeNaming(enrolled, returnDay);

    const wait = await waiting(enrolled);
    expect(wait.pausedUntil).toBe(theThirteenth.toUTC().toISO());
    expect(wait.timeline.find((e: any) => e.type === 'out_of_office')).toMatchObject({
      returnDate: returnDay.toISODate(),
      until: theThirteenth.toUTC().toISO(),
    });
    const status = wait.timeline.find((e: any) => e.type === 'status_changed' && e.to === 'paused');
    expect(status).toMatchObject({ reason: 'the lead is out of office', until: theThirteenth.toUTC().toISO() });

    // Tuesday, when step 2 fell due: still waiting, nothing sent.
    await sleepUntil(monday.plus({ days: 1, hours: 2 }));
    expect(await enrolled.enrolmentNow()).toMatchObject({ status: 'paused', pausedUntil: theThirteenth.toUTC().toISO() });
    expect(await enrolled.sent()).toEqual(['Step 1']);

    // The 13th, 08:59: back from the wait, step 2 due at the window's opening, not sent yet.
    await sleepUntil(theThirteenth.set({ hour: 8, minute: 59 }));
    const back = await eventually(
      async () => {
        const enrolment = await enrolled.enrolmentNow();
        return enrolment.status === 'active' && enrolment.nextDueAt ? enrolment : undefined;
      },
      { what: 'the enrolment back from the wait' },
    );
    expect(back).toMatchObject({ pausedUntil: null, nextDueAt: theThirteenth.set({ hour: 9 }).toUTC().toISO() });
    expect(back.timeline.find((e: any) => e.type === 'status_changed' && e.from === 'paused')).toMatchObject({
      to: 'active',
      reason: 'the lead is back from out of office',
    });
    expect(await enrolled.sent()).toEqual(['Step 1']);

    await sleepUntil(theThirteenth.set({ hour: 9, minute: 5 }));
    const sentAt = await step2SentAt(enrolled);
    expect(sentAt.toISODate()).toBe(theThirteenth.toISODate());
    expect(sentAt.toFormat('HH:mm')).toBe('09:00');
    expect(await enrolled.sent()).toEqual(['Step 1', 'Step 2']);
  }, 120_000);
});

describe('a manual resume through the API while the enrolment waits for the lead', () => {
  /** A lead enrolled on a Monday who is out of office until the Monday after (a full date, as Gmail writes it). */
  async function waitingForTheLead() {
    const monday = await nextMondayAtTen();
    const returnDay = monday.plus({ days: 7 }).setLocale('en');
    const enrolled = await enrolledAt(monday, gmailVacation.lead);
    await arrives(
      gmailVacation.to(enrolled.replyAddress, [
        ['Monday, January 19', returnDay.toFormat('cccc, LLLL d, yyyy')],
        ['January 19', returnDay.toFormat('LLLL d, yyyy')],
      ]),
    );
    const wait = await waiting(enrolled);
    expect(wait.pausedUntil).toBe(returnDay.plus({ days: 1 }).startOf('day').toUTC().toISO());
    // And it says what it waits for.
    expect(wait.waitingFor).toEqual({ cause: 'out_of_office', until: wait.pausedUntil });
    expect(
      (await enrolled.api('GET', `/v1/sequences/${wait.sequenceId}/enrolments?waitingFor=out_of_office`)).body.data.map(
        (e: { id: string }) => e.id,
      ),
    ).toEqual([wait.id]);
    return { monday, enrolled };
  }

  const resume = async (enrolled: Enrolled) => {
    const res = await enrolled.api('POST', `/v1/enrolments/${enrolled.enrolment.id}/resume`);
    expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
  };

  it('inside the send window: the step that fell due meanwhile goes at once', async () => {
    const { monday, enrolled } = await waitingForTheLead();
    const wednesdayAt11 = monday.plus({ days: 2, hours: 1 });
    await sleepUntil(wednesdayAt11);
    await resume(enrolled);
    const sentAt = await step2SentAt(enrolled);
    expect(sentAt >= wednesdayAt11 && sentAt < wednesdayAt11.plus({ minutes: 5 }), sentAt.toISO()!).toBe(true);
    expect(await enrolled.enrolmentNow()).toMatchObject({ pausedUntil: null });
  }, 120_000);

  it('outside it (20:00): the step goes at the next opening of the window, 09:00 the next weekday', async () => {
    const { monday, enrolled } = await waitingForTheLead();
    const wednesdayAt20 = monday.plus({ days: 2 }).set({ hour: 20 });
    await sleepUntil(wednesdayAt20);
    await resume(enrolled);
    const thursdayAt9 = monday.plus({ days: 3 }).set({ hour: 9 });
    await sleepUntil(thursdayAt9.minus({ minutes: 1 }));
    expect(await enrolled.sent(), 'nothing sent outside the window').toEqual(['Step 1']);
    expect(await enrolled.enrolmentNow()).toMatchObject({ status: 'active', pausedUntil: null, nextDueAt: thursdayAt9.toUTC().toISO() });
    await sleepUntil(thursdayAt9.plus({ minutes: 5 }));
    expect((await step2SentAt(enrolled)).toFormat('yyyy-LL-dd HH:mm')).toBe(thursdayAt9.toFormat('yyyy-LL-dd HH:mm'));
  }, 120_000);
});
