import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolments } from '../db/schema.js';
import { enrolmentWorkflowId } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, startService, testConfig, type TestService } from './helpers/service.js';
import { eq } from 'drizzle-orm';

// Issue 18's "why hasn't it sent yet?": each live enrolment answers what its next email waits for,
// the list filters by it, and the Temporal UI's details say it. (Daily caps and the provider's
// quota: test/senders.test.ts and test/sending.test.ts; holidays: test/holidays.test.ts.)

let service: TestService;
beforeAll(async () => {
  service = await startService({ config: await testConfig() });
});
afterAll(() => service?.stop());

type Fixture = Awaited<ReturnType<typeof asNewAccount>>;
const twoSteps = [{ subject: 'Hello' }, { subject: 'Again', delay: { amount: 2, unit: 'days' }, inThread: false }];

async function enrolment(fixture: Fixture, id: string) {
  return (await fixture.api('GET', `/v1/enrolments/${id}`)).body;
}

/** The enrolment once its answer says it waits for `cause`. */
async function waitingFor(fixture: Fixture, id: string, cause: string) {
  return eventually(
    async () => {
      const e = await enrolment(fixture, id);
      return e.waitingFor?.cause === cause ? e : undefined;
    },
    { what: `enrolment ${id} to wait for ${cause}` },
  );
}

const listed = async (fixture: Fixture, sequenceId: string, cause: string) =>
  (await fixture.api('GET', `/v1/sequences/${sequenceId}/enrolments?waitingFor=${cause}`)).body.data.map((e: { id: string }) => e.id);

const details = async (id: string) =>
  (await service.temporal.workflow.getHandle(enrolmentWorkflowId(id)).query<{ currentDetails?: string }>('__temporal_workflow_metadata'))
    .currentDetails;

describe('an enrolment between two steps', () => {
  it('waits for its delay, until the next email is due', async () => {
    const acme = await asNewAccount(service);
    const sequence = await acme.createSequence({ steps: twoSteps });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    const e = await waitingFor(acme, id, 'delay');
    expect(e.waitingFor).toEqual({ cause: 'delay', until: e.nextDueAt });
    expect(Date.parse(e.nextDueAt) - Date.parse(e.lastSentAt)).toBeCloseTo(2 * 24 * 3_600_000, -4);
    expect(await listed(acme, sequence.id, 'delay')).toEqual([id]);
    expect(await listed(acme, sequence.id, 'paused')).toEqual([]);
  });
});

describe('an enrolment due outside its send window', () => {
  it('waits for the window to open, and the Temporal UI says so', async () => {
    const acme = await asNewAccount(service, { timezone: 'UTC' });
    // A window only on the day after tomorrow: today's step 1 waits for it.
    const opensOn = DateTime.utc().plus({ days: 2 });
    const sequence = await acme.createSequence({ sendWindow: { days: [opensOn.weekday], start: '09:00', end: '17:00' } });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    const e = await waitingFor(acme, id, 'send_window');
    expect(e.waitingFor).toEqual({ cause: 'send_window', until: opensOn.set({ hour: 9, minute: 0, second: 0, millisecond: 0 }).toISO() });
    expect(await listed(acme, sequence.id, 'send_window')).toEqual([id]);
    expect(await details(id)).toContain('at the send window’s opening');
  });
});

describe('an enrolment on a company closure', () => {
  it("names the closure it waits after, and plans again at once when the account's closures change", async () => {
    const acme = await asNewAccount(service, { timezone: 'UTC' });
    const today = DateTime.utc();
    const closures = [0, 1, 2].map((d) => ({ date: today.plus({ days: d }).toISODate()!, name: 'Winter closure' }));
    expect((await acme.api('PATCH', '/v1/account', { closures })).status).toBe(200);
    const sequence = await acme.createSequence({ sendWindow: { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '00:00' } });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    const e = await waitingFor(acme, id, 'holiday');
    expect(e.waitingFor).toEqual({
      cause: 'holiday',
      until: today.plus({ days: 3 }).startOf('day').toISO(),
      holiday: { date: today.toISODate(), name: 'Winter closure' },
    });
    expect(await details(id)).toContain('after Winter closure, a company closure');
    // The closure is called off: the email goes now.
    expect((await acme.api('PATCH', '/v1/account', { closures: [] })).body.closures).toEqual([]);
    await acme.waitForStatus(id, 'completed');
  });

  it('sends on the closure when its sequence does not skip days off', async () => {
    const acme = await asNewAccount(service, { timezone: 'UTC' });
    await acme.api('PATCH', '/v1/account', { closures: [{ date: DateTime.utc().toISODate(), name: 'Closed' }] });
    const sequence = await acme.createSequence({
      skipHolidays: false,
      sendWindow: { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '00:00' },
    });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    await acme.waitForStatus(id, 'completed');
  });
});

describe('a paused enrolment', () => {
  it('says a person paused it, is listed as paused, and waits for its delay again once resumed', async () => {
    const acme = await asNewAccount(service);
    const sequence = await acme.createSequence({ steps: twoSteps });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    await waitingFor(acme, id, 'delay');
    const paused = await acme.api('POST', `/v1/enrolments/${id}/pause`);
    expect(paused.body.waitingFor).toEqual({ cause: 'paused', by: 'user', reason: null });
    expect(await listed(acme, sequence.id, 'paused')).toEqual([id]);
    expect(await listed(acme, sequence.id, 'delay')).toEqual([]);
    await acme.api('POST', `/v1/enrolments/${id}/resume`);
    expect((await waitingFor(acme, id, 'delay')).status).toBe('active');
  });

  it("says its sequence's pause paused it, with the reason, in the API and the Temporal UI", async () => {
    const acme = await asNewAccount(service);
    const sequence = await acme.createSequence({ steps: twoSteps });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    await waitingFor(acme, id, 'delay');
    expect((await acme.api('POST', `/v1/sequences/${sequence.id}/pause`)).status).toBeLessThan(300);
    const e = await waitingFor(acme, id, 'paused');
    expect(e.waitingFor).toEqual({ cause: 'paused', by: 'sequence', reason: 'the sequence is paused' });
    await eventually(async () => (await details(id))?.includes('Paused (the sequence is paused)'), { what: 'the details' });
  });

  it('answers a pause recorded before waits were written as a person’s', async () => {
    const acme = await asNewAccount(service);
    const sequence = await acme.createSequence({ steps: twoSteps });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    await waitingFor(acme, id, 'delay');
    await acme.api('POST', `/v1/enrolments/${id}/pause`);
    await service.database.db.update(enrolments).set({ waitingFor: null }).where(eq(enrolments.id, id));
    expect((await enrolment(acme, id)).waitingFor).toEqual({ cause: 'paused', by: 'user', reason: null });
    expect(await listed(acme, sequence.id, 'paused')).toEqual([id]);
  });
});

describe('a lead whose time zone changes', () => {
  it('has its waiting email planned again in the new zone', async () => {
    const acme = await asNewAccount(service, { timezone: 'UTC' });
    const opensOn = DateTime.utc().plus({ days: 2 });
    const sequence = await acme.createSequence({ sendWindow: { days: [opensOn.weekday], start: '09:00', end: '17:00' } });
    const lead = await acme.createLead();
    const { id } = await acme.enrolLead(sequence.id, lead.id);
    const before = await waitingFor(acme, id, 'send_window');
    expect((await acme.api('PATCH', `/v1/leads/${lead.id}`, { timezone: 'Asia/Tokyo' })).status).toBe(200);
    const after = await eventually(
      async () => {
        const e = await enrolment(acme, id);
        return e.nextDueAt !== before.nextDueAt ? e : undefined;
      },
      { what: 'the step planned again' },
    );
    expect(DateTime.fromISO(after.nextDueAt, { zone: 'Asia/Tokyo' }).toFormat('HH:mm')).toBe('09:00');
    expect(after.waitingFor).toEqual({ cause: 'send_window', until: after.nextDueAt });
  });
});

describe('the list filter', () => {
  it('refuses a cause that is not one, with the field named', async () => {
    const acme = await asNewAccount(service);
    const sequence = await acme.createSequence();
    const res = await acme.api('GET', `/v1/sequences/${sequence.id}/enrolments?waitingFor=coffee`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ field: 'waitingFor' });
  });
});
