import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { addDelay, nextStep, nextWindowOpening, startOfNextDay, stepDueAt } from '../domain/schedule.js';

const at = (iso: string, zone = 'UTC') => DateTime.fromISO(iso, { zone }).toJSDate();
const inZone = (d: Date, zone: string) => DateTime.fromJSDate(d, { zone }).toISO({ suppressMilliseconds: true });

describe('a step delay', () => {
  it('in minutes and hours is exact elapsed time', () => {
    expect(addDelay(at('2026-03-01T10:00:00Z'), { amount: 90, unit: 'minutes' }, 'UTC')).toEqual(at('2026-03-01T11:30:00Z'));
    expect(addDelay(at('2026-03-01T10:00:00Z'), { amount: 5, unit: 'hours' }, 'UTC')).toEqual(at('2026-03-01T15:00:00Z'));
  });

  it('of zero means now', () => {
    const now = at('2026-03-01T10:00:00Z');
    for (const unit of ['minutes', 'hours', 'days', 'business_days'] as const) {
      expect(addDelay(now, { amount: 0, unit }, 'Europe/Paris')).toEqual(now);
    }
  });

  it('in days keeps the wall-clock time across a daylight-saving change', () => {
    // Paris springs forward on 2026-03-29: one day later is still 10:00 local, 23 hours of elapsed time.
    const due = addDelay(at('2026-03-28T10:00:00', 'Europe/Paris'), { amount: 1, unit: 'days' }, 'Europe/Paris');
    expect(inZone(due, 'Europe/Paris')).toBe('2026-03-29T10:00:00+02:00');
  });

  it('in business days skips Saturday and Sunday', () => {
    const friday = at('2026-11-27T09:30:00', 'America/New_York');
    expect(inZone(addDelay(friday, { amount: 1, unit: 'business_days' }, 'America/New_York'), 'America/New_York')).toBe(
      '2026-11-30T09:30:00-05:00',
    );
    expect(inZone(addDelay(friday, { amount: 6, unit: 'business_days' }, 'America/New_York'), 'America/New_York')).toBe(
      '2026-12-07T09:30:00-05:00',
    );
  });
});

describe('a send window', () => {
  const weekdays9to5 = { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };

  it('lets a time inside it through unchanged', () => {
    const wednesdayNoon = at('2026-11-25T12:00:00', 'Europe/Paris');
    expect(nextWindowOpening(wednesdayNoon, weekdays9to5, 'Europe/Paris')).toEqual(wednesdayNoon);
  });

  it('moves an early time to the opening of the same day', () => {
    expect(inZone(nextWindowOpening(at('2026-11-25T06:00:00', 'Europe/Paris'), weekdays9to5, 'Europe/Paris'), 'Europe/Paris')).toBe(
      '2026-11-25T09:00:00+01:00',
    );
  });

  it('moves a late Friday time to Monday’s opening', () => {
    expect(inZone(nextWindowOpening(at('2026-11-27T18:00:00', 'Europe/Paris'), weekdays9to5, 'Europe/Paris'), 'Europe/Paris')).toBe(
      '2026-11-30T09:00:00+01:00',
    );
  });

  it('is read in the lead’s zone, not the server’s', () => {
    // 16:00 UTC is 08:00 in Los Angeles: before the window opens there.
    const due = nextWindowOpening(at('2026-11-25T16:00:00Z'), weekdays9to5, 'America/Los_Angeles');
    expect(inZone(due, 'America/Los_Angeles')).toBe('2026-11-25T09:00:00-08:00');
  });

  it('opens on the new offset after a daylight-saving change', () => {
    // Paris falls back on Sunday 2026-10-25; a step due that Sunday goes Monday 09:00 CET.
    const due = stepDueAt({
      previousAt: at('2026-10-23T10:00:00', 'Europe/Paris'),
      delay: { amount: 2, unit: 'days' },
      window: weekdays9to5,
      zone: 'Europe/Paris',
    });
    expect(inZone(due, 'Europe/Paris')).toBe('2026-10-26T09:00:00+01:00');
    expect(due.toISOString()).toBe('2026-10-26T08:00:00.000Z');
  });

  it('holds a step that fell due during an out-of-office wait until the wait ends, then its window', () => {
    // Due on Tuesday; the lead is back on Friday 13 at midnight: the step goes at 09:00 that day.
    const due = stepDueAt({
      previousAt: at('2026-11-09T10:00:00', 'Europe/Paris'),
      delay: { amount: 1, unit: 'days' },
      window: weekdays9to5,
      zone: 'Europe/Paris',
      notBefore: at('2026-11-13T00:00:00', 'Europe/Paris'),
    });
    expect(inZone(due, 'Europe/Paris')).toBe('2026-11-13T09:00:00+01:00');
  });

  it('leaves a step due after the out-of-office wait where its delay puts it', () => {
    const due = stepDueAt({
      previousAt: at('2026-11-09T10:00:00', 'Europe/Paris'),
      delay: { amount: 7, unit: 'days' },
      window: weekdays9to5,
      zone: 'Europe/Paris',
      notBefore: at('2026-11-13T00:00:00', 'Europe/Paris'),
    });
    expect(inZone(due, 'Europe/Paris')).toBe('2026-11-16T10:00:00+01:00');
  });

  it('with no window lets every time through', () => {
    const t = at('2026-11-28T03:00:00Z');
    expect(nextWindowOpening(t, null, 'UTC')).toEqual(t);
  });
});

describe('a daily cap', () => {
  it('postpones to midnight of the next day in the account’s zone', () => {
    expect(inZone(startOfNextDay(at('2026-11-25T23:30:00', 'Asia/Tokyo'), 'Asia/Tokyo'), 'Asia/Tokyo')).toBe('2026-11-26T00:00:00+09:00');
  });
});

describe('the next step', () => {
  const steps = [
    { id: 'a', position: 1 },
    { id: 'b', position: 2 },
    { id: 'c', position: 3 },
  ];

  it('is the first step when nothing was sent', () => {
    expect(nextStep(steps, [])?.id).toBe('a');
  });

  it('is the one after the last sent, in the current order', () => {
    expect(nextStep(steps, [{ stepId: 'a', position: 1 }])?.id).toBe('b');
    const reordered = [
      { id: 'a', position: 1 },
      { id: 'c', position: 2 },
      { id: 'b', position: 3 },
    ];
    expect(nextStep(reordered, [{ stepId: 'a', position: 1 }])?.id).toBe('c');
  });

  it('never repeats a step already sent, even if reordering moved it later', () => {
    const reordered = [
      { id: 'b', position: 1 },
      { id: 'a', position: 2 },
      { id: 'c', position: 3 },
    ];
    const sent = [
      { stepId: 'a', position: 2 },
      { stepId: 'b', position: 1 },
    ];
    expect(nextStep(reordered, sent)?.id).toBe('c');
  });

  it('continues after the place of a deleted last-sent step', () => {
    const remaining = [
      { id: 'a', position: 1 },
      { id: 'c', position: 3 },
    ];
    expect(nextStep(remaining, [{ stepId: 'b', position: 2 }])?.id).toBe('c');
  });

  it('is none when the last step was sent', () => {
    expect(nextStep(steps, [{ stepId: 'c', position: 3 }])).toBeUndefined();
  });
});
