import { describe, expect, it } from 'vitest';
import { forecastSequence, type ForecastEnrolment, type ForecastInput } from '../../domain/forecast.js';
import { holidayCalendar, NO_DAYS_OFF } from '../../domain/holidays.js';

const NOW = new Date('2026-12-21T10:00:00Z'); // a Monday
const steps = [
  { id: 'one', delay: { amount: 0, unit: 'minutes' as const } },
  { id: 'two', delay: { amount: 1, unit: 'business_days' as const } },
];
const enrolment = (i: number, values: Partial<ForecastEnrolment> = {}): ForecastEnrolment => ({
  id: `e${i}`,
  status: 'active',
  nextStep: 0,
  nextDueAt: new Date(NOW.getTime() + i * 1000),
  previousAt: NOW,
  waitingFor: null,
  started: false,
  holdout: false,
  zone: 'UTC',
  daysOff: NO_DAYS_OFF,
  daysOffKey: 'none',
  senderId: null,
  recipientKey: `domain:c${i}.test`,
  ...values,
});
const input = (values: Partial<ForecastInput>): ForecastInput => ({
  steps,
  window: null,
  enrolments: [],
  zone: 'UTC',
  caps: { accountDaily: null, senders: new Map(), recipientDaily: null, newLeadsPerDay: null },
  sentToday: { account: 0, bySender: new Map(), byRecipient: new Map(), newLeads: 0 },
  now: NOW,
  days: 5,
  ...values,
});
const perDay = (f: ReturnType<typeof forecastSequence>) => f.days.map((d) => `${d.date} ${d.byStep.one}/${d.byStep.two}`);

describe('a forecast', () => {
  it('starts at most the new leads a day allows, in the order they fell due, and their follow-ups move with them', () => {
    const f = forecastSequence(
      input({ enrolments: [0, 1, 2, 3, 4].map((i) => enrolment(i)), caps: { ...input({}).caps, newLeadsPerDay: 2 } }),
    );
    expect(perDay(f)).toEqual(['2026-12-21 2/0', '2026-12-22 2/2', '2026-12-23 1/2', '2026-12-24 0/1', '2026-12-25 0/0']);
    expect(f.heldBack).toEqual({ new_leads_cap: 3 });
  });

  it('counts what today already sent against today’s cap', () => {
    const f = forecastSequence(
      input({
        enrolments: [0, 1].map((i) => enrolment(i)),
        caps: { ...input({}).caps, accountDaily: 3 },
        sentToday: { ...input({}).sentToday, account: 2 },
      }),
    );
    expect(perDay(f).slice(0, 2)).toEqual(['2026-12-21 1/0', '2026-12-22 1/1']);
    expect(f.heldBack).toEqual({ daily_cap: 1 });
  });

  it("skips the lead's holidays in a business-day delay", () => {
    const gb = holidayCalendar('GB');
    const f = forecastSequence(
      input({ enrolments: [enrolment(0, { nextDueAt: new Date('2026-12-24T10:00:00Z'), daysOff: gb, daysOffKey: 'GB' })] }),
    );
    // Christmas Day, Boxing Day's substitute on Monday: the follow-up goes on Tuesday the 29th, outside these five days.
    expect(perDay(f)).toEqual(['2026-12-21 0/0', '2026-12-22 0/0', '2026-12-23 0/0', '2026-12-24 1/0', '2026-12-25 0/0']);
    expect(f.heldBack).toEqual({});
  });

  it('sends nothing for a paused enrolment and says what holds it', () => {
    const f = forecastSequence(
      input({
        enrolments: [enrolment(0, { status: 'paused', waitingFor: { cause: 'bounce_protection', reason: 'bounce protection: …' } })],
      }),
    );
    expect(f.days.every((d) => d.total === 0)).toBe(true);
    expect(f.heldBack).toEqual({ bounce_protection: 1 });
  });

  it('gives a holdout enrolment its first step only', () => {
    const f = forecastSequence(input({ enrolments: [enrolment(0, { holdout: true })] }));
    expect(f.days.reduce((n, d) => n + d.total, 0)).toBe(1);
  });
});
