import Holidays from 'date-holidays';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentWorkflowId, stateQuery } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, type TestService } from './helpers/service.js';
import { startTimeSkippingService } from './helpers/time-skipping.js';

// Issue 18: "a holiday moves a business-day delay in two countries". On the time-skipping server
// the weeks pass; whatever today is, the test picks the shortest business-day delay from now on
// which Great Britain's and France's public holidays (date-holidays' own calendar) give different
// days, and checks that each lead's follow-up goes on its own country's working day.

let env: TestWorkflowEnvironment;
let service: TestService;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ env, service, stop } = await startTimeSkippingService());
});
afterAll(() => stop?.());

const LEADS = { GB: 'Europe/London', FR: 'Europe/Paris' } as const;
type Country = keyof typeof LEADS;

const publicHolidays = (country: Country) => {
  const calendar = new Holidays(country);
  const days = new Map<string, string>();
  for (const year of [2026, 2027, 2028, 2029, 2030, 2031, 2032, 2033, 2034, 2035]) {
    for (const h of calendar.getHolidays(year, 'en')) if (h.type === 'public') days.set(h.date.slice(0, 10), h.name);
  }
  return days;
};
const HOLIDAYS = { GB: publicHolidays('GB'), FR: publicHolidays('FR') };

/** The rule as the help page states it: the n-th weekday after `from` that is no public holiday of the country. */
function nthWorkingDay(from: DateTime, n: number, holidays: Map<string, string> | null) {
  let t = from;
  let skipped: string | undefined;
  for (let left = n; left > 0;) {
    t = t.plus({ days: 1 });
    if (t.weekday > 5) continue;
    const day = t.toFormat('yyyy-LL-dd');
    if (holidays?.has(day)) skipped ??= day;
    else left--;
  }
  return { day: t.toFormat('yyyy-LL-dd'), skipped };
}

describe('a business-day delay over public holidays', () => {
  it("goes on each lead's own country's next working day, and the enrolment says which holiday it waits after", async () => {
    const acme = await asNewAccount(service);
    // The French lead has no country of their own: the account's applies.
    expect((await acme.api('PATCH', '/v1/account', { country: 'fr' })).body.country).toBe('FR');
    const now = DateTime.fromMillis(await env.currentTimeMs());
    const at = (country: Country) => now.setZone(LEADS[country]);
    let n = 1;
    while (nthWorkingDay(at('GB'), n, HOLIDAYS.GB).day === nthWorkingDay(at('FR'), n, HOLIDAYS.FR).day) n++;
    const steps = [{ subject: 'Hello' }, { subject: 'Following up', delay: { amount: n, unit: 'business_days' }, inThread: false }];
    const skipping = await acme.createSequence({ steps });
    const ignoring = await acme.createSequence({ steps, skipHolidays: false });

    const gbLead = await acme.createLead({ country: 'GB', timezone: LEADS.GB });
    const frLead = await acme.createLead({ timezone: LEADS.FR });
    const enrolled = {
      GB: await acme.enrolLead(skipping.id, gbLead.id),
      FR: await acme.enrolLead(skipping.id, frLead.id),
      ignoring: await acme.enrolLead(ignoring.id, (await acme.createLead({ country: 'GB', timezone: LEADS.GB })).id),
    };
    const planned = async (id: string) =>
      eventually(
        async () => {
          const e = (await acme.api('GET', `/v1/enrolments/${id}`)).body;
          return e.lastStepId && e.nextStepId && e.nextStepId !== e.lastStepId ? e : undefined;
        },
        { what: `enrolment ${id} to plan step 2` },
      );
    const sentAfterStep1 = async (id: string) =>
      DateTime.fromISO((await env.client.workflow.getHandle(enrolmentWorkflowId(id)).query(stateQuery)).lastSentAt!);

    for (const country of ['GB', 'FR'] as const) {
      const e = await planned(enrolled[country].id);
      const expected = nthWorkingDay((await sentAfterStep1(e.id)).setZone(LEADS[country]), n, HOLIDAYS[country]);
      expect(DateTime.fromISO(e.nextDueAt, { zone: LEADS[country] }).toFormat('yyyy-LL-dd'), country).toBe(expected.day);
      if (expected.skipped) {
        expect(e.waitingFor, country).toEqual({
          cause: 'holiday',
          until: e.nextDueAt,
          holiday: { date: expected.skipped, name: HOLIDAYS[country].get(expected.skipped), region: country },
        });
      } else expect(e.waitingFor, country).toEqual({ cause: 'delay', until: e.nextDueAt });
    }
    const plain = await planned(enrolled.ignoring.id);
    const weekdays = nthWorkingDay((await sentAfterStep1(plain.id)).setZone(LEADS.GB), n, null);
    expect(DateTime.fromISO(plain.nextDueAt, { zone: LEADS.GB }).toFormat('yyyy-LL-dd')).toBe(weekdays.day);
    expect(plain.waitingFor).toEqual({ cause: 'delay', until: plain.nextDueAt });

    // Time passes: each follow-up goes at the time it was planned for, on that day.
    const dues = Object.fromEntries(
      await Promise.all(
        Object.entries(enrolled).map(async ([key, { id }]) => [key, (await acme.api('GET', `/v1/enrolments/${id}`)).body.nextDueAt]),
      ),
    );
    for (const [key, zone] of [
      ['GB', LEADS.GB],
      ['FR', LEADS.FR],
      ['ignoring', LEADS.GB],
    ] as const) {
      const { id } = enrolled[key];
      const due = dues[key];
      const handle = env.client.workflow.getHandle(enrolmentWorkflowId(id));
      expect(await handle.result()).toMatchObject({ status: 'completed', sentCount: 2 });
      const wentAt = DateTime.fromISO((await handle.query(stateQuery)).lastSentAt!, { zone });
      expect(wentAt.toFormat('yyyy-LL-dd'), key).toBe(DateTime.fromISO(due, { zone }).toFormat('yyyy-LL-dd'));
      expect(wentAt.toMillis() - Date.parse(due), key).toBeGreaterThanOrEqual(0);
    }
    console.log(`[figures] ${n} business day(s) from ${now.toISODate()}: GB and FR follow-ups on different days`);
  }, 180_000);
});
