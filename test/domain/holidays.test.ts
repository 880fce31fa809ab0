import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { holidayCalendar, isHolidayRegion, NO_DAYS_OFF } from '../../domain/holidays.js';
import { stepSchedule } from '../../domain/schedule.js';

const inZone = (d: Date, zone: string) => DateTime.fromJSDate(d, { zone }).toFormat('yyyy-LL-dd HH:mm ccc');
const local = (iso: string, zone: string) => DateTime.fromISO(iso, { zone }).toJSDate();
const weekdays9to5 = { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };

describe('holiday regions', () => {
  it('are countries and subdivisions the calendar knows, in capitals', () => {
    for (const code of ['GB', 'FR', 'US', 'DE-BY', 'US-CA']) expect(isHolidayRegion(code), code).toBe(true);
    for (const code of ['ZZ', 'gb', 'GBR', 'DE-ZZ', '', 'FR-', '../etc', 'constructor', '__proto__'])
      expect(isHolidayRegion(code), code).toBe(false);
  });
});

describe('a holiday calendar', () => {
  it('names the public holidays of the region, in English, and no observance', () => {
    const gb = holidayCalendar('GB');
    expect(gb('2026-12-25')).toEqual({ date: '2026-12-25', name: 'Christmas Day', region: 'GB' });
    expect(gb('2026-12-28')).toMatchObject({ region: 'GB' }); // Boxing Day's substitute
    expect(gb('2026-12-29')).toBeNull();
    // Mother's Day in Germany is an observance, and Christmas Eve afternoon a bank half-day: both working days.
    const de = holidayCalendar('DE');
    expect(de('2026-05-10')).toBeNull();
    expect(de('2026-12-24')).toBeNull();
  });

  it('knows the holidays of a region within a country', () => {
    // Epiphany is a public holiday in Bavaria, not in Germany as a whole.
    expect(holidayCalendar('DE-BY')('2027-01-06')).toMatchObject({ region: 'DE-BY' });
    expect(holidayCalendar('DE')('2027-01-06')).toBeNull();
  });

  it("adds the account's closures, named as the account names them, even on a public holiday", () => {
    const days = holidayCalendar('GB', [
      { date: '2026-12-24', name: 'Office closed' },
      { date: '2026-12-25', name: 'Company Christmas' },
    ]);
    expect(days('2026-12-24')).toEqual({ date: '2026-12-24', name: 'Office closed' });
    expect(days('2026-12-25')).toEqual({ date: '2026-12-25', name: 'Company Christmas' });
    expect(holidayCalendar(null, [{ date: '2026-08-14', name: 'Summer closure' }])('2026-08-14')).toMatchObject({ name: 'Summer closure' });
  });

  it('is empty for a lead and account with no region and no closures, or an unknown region', () => {
    expect(holidayCalendar(null)).toBe(NO_DAYS_OFF);
    expect(holidayCalendar('ZZ')('2026-12-25')).toBeNull();
  });
});

describe('a business-day delay over the holidays', () => {
  // Thursday 24 December 2026, 10:00 in each lead's zone, plus one business day.
  const step = (country: string, zone: string) =>
    stepSchedule({
      previousAt: local('2026-12-24T10:00', zone),
      delay: { amount: 1, unit: 'business_days' },
      window: null,
      zone,
      daysOff: holidayCalendar(country),
    });

  it('skips Christmas Day and the Boxing Day substitute in Great Britain, and says so', () => {
    const gb = step('GB', 'Europe/London');
    expect(inZone(gb.at, 'Europe/London')).toBe('2026-12-29 10:00 Tue');
    expect(gb.wait).toEqual({
      cause: 'holiday',
      until: gb.at.toISOString(),
      holiday: { date: '2026-12-25', name: 'Christmas Day', region: 'GB' },
    });
  });

  it('skips only Christmas Day in the United States', () => {
    const us = step('US', 'America/New_York');
    expect(inZone(us.at, 'America/New_York')).toBe('2026-12-28 10:00 Mon');
    expect(us.wait).toMatchObject({ cause: 'holiday', holiday: { date: '2026-12-25', region: 'US' } });
  });

  it('counts holidays as working days when the sequence sends on them', () => {
    const plain = stepSchedule({
      previousAt: local('2026-12-24T10:00', 'Europe/London'),
      delay: { amount: 1, unit: 'business_days' },
      window: null,
      zone: 'Europe/London',
      daysOff: NO_DAYS_OFF,
    });
    expect(inZone(plain.at, 'Europe/London')).toBe('2026-12-25 10:00 Fri');
    expect(plain.wait).toEqual({ cause: 'delay', until: plain.at.toISOString() });
  });

  it('leaves calendar-day delays alone: "2 days" is two days, holiday or not', () => {
    const days = stepSchedule({
      previousAt: local('2026-12-23T10:00', 'Europe/London'),
      delay: { amount: 2, unit: 'days' },
      window: null,
      zone: 'Europe/London',
      daysOff: holidayCalendar('GB'),
    });
    expect(inZone(days.at, 'Europe/London')).toBe('2026-12-25 10:00 Fri');
    expect(days.wait.cause).toBe('delay');
  });
});

describe('a send window over the holidays', () => {
  it('does not open on a holiday: the email waits for the next working window day', () => {
    const due = stepSchedule({
      previousAt: local('2026-12-24T18:00', 'Europe/London'),
      delay: { amount: 0, unit: 'minutes' },
      window: weekdays9to5,
      zone: 'Europe/London',
      daysOff: holidayCalendar('GB'),
    });
    expect(inZone(due.at, 'Europe/London')).toBe('2026-12-29 09:00 Tue');
    expect(due.wait).toMatchObject({ cause: 'holiday', holiday: { date: '2026-12-25', name: 'Christmas Day' } });
  });

  it('is closed for the rest of a day that is a closure, even inside its hours', () => {
    const due = stepSchedule({
      previousAt: local('2026-08-14T11:00', 'Europe/Paris'),
      delay: { amount: 0, unit: 'minutes' },
      window: weekdays9to5,
      zone: 'Europe/Paris',
      daysOff: holidayCalendar('FR', [{ date: '2026-08-14', name: 'Summer closure' }]),
    });
    expect(inZone(due.at, 'Europe/Paris')).toBe('2026-08-17 09:00 Mon');
    expect(due.wait).toMatchObject({ cause: 'holiday', holiday: { name: 'Summer closure' } });
    expect('region' in (due.wait as { holiday: object }).holiday).toBe(false);
  });

  it('says the window, not a holiday, when only the hours held the email', () => {
    const due = stepSchedule({
      previousAt: local('2026-12-22T18:00', 'Europe/London'),
      delay: { amount: 0, unit: 'minutes' },
      window: weekdays9to5,
      zone: 'Europe/London',
      daysOff: holidayCalendar('GB'),
    });
    expect(inZone(due.at, 'Europe/London')).toBe('2026-12-23 09:00 Wed');
    expect(due.wait).toEqual({ cause: 'send_window', until: due.at.toISOString() });
  });

  it('finds an opening after a long closure, within bounded work', () => {
    const closures = Array.from({ length: 200 }, (_, i) => ({
      date: DateTime.fromISO('2027-01-01').plus({ days: i }).toFormat('yyyy-LL-dd'),
      name: 'Closed',
    }));
    const due = stepSchedule({
      previousAt: local('2027-01-01T10:00', 'UTC'),
      delay: { amount: 1, unit: 'business_days' },
      window: weekdays9to5,
      zone: 'UTC',
      daysOff: holidayCalendar(null, closures),
    });
    expect(inZone(due.at, 'UTC')).toBe('2027-07-20 10:00 Tue');
  });
});
