import { DateTime } from 'luxon';
import type { DelayUnit, SendWindow } from '../db/schema.js';
import { NO_DAYS_OFF, type DayOff, type HolidayCalendar } from './holidays.js';

// When a step is due. All rules are pure: the same inputs give the same instant, so the workflow
// can re-plan at any time (after an edit, a resume, a restart) and get a consistent answer.

export const MAX_DELAY_MINUTES = 365 * 24 * 60;

export interface Delay {
  amount: number;
  unit: DelayUnit;
}

const isWeekend = (t: DateTime) => t.weekday === 6 || t.weekday === 7;
const dayOf = (t: DateTime) => t.toFormat('yyyy-LL-dd');

/**
 * Adds a step's delay in the lead's zone: "2 days" keeps the wall-clock time across a DST change.
 * Business days skip weekends and the calendar's days off; `skipped` names the first day off that
 * a business-day delay stepped over.
 */
export function addDelay(from: Date, delay: Delay, zone: string, daysOff: HolidayCalendar = NO_DAYS_OFF): Date {
  return delayEnd(from, delay, zone, daysOff).at;
}

function delayEnd(from: Date, delay: Delay, zone: string, daysOff: HolidayCalendar): { at: Date; skipped?: DayOff } {
  const start = DateTime.fromJSDate(from, { zone });
  switch (delay.unit) {
    case 'minutes':
      return { at: start.plus({ minutes: delay.amount }).toJSDate() };
    case 'hours':
      return { at: start.plus({ hours: delay.amount }).toJSDate() };
    case 'days':
      return { at: start.plus({ days: delay.amount }).toJSDate() };
    case 'business_days': {
      let t = start;
      let skipped: DayOff | undefined;
      // Bounded: at most a year of working days, and a calendar has finitely many days off.
      for (let left = delay.amount, guard = 0; left > 0 && guard < MAX_DAYS_SCANNED; guard++) {
        t = t.plus({ days: 1 });
        if (isWeekend(t)) continue;
        const off = daysOff(dayOf(t));
        if (off) skipped ??= off;
        else left--;
      }
      return { at: t.toJSDate(), ...(skipped ? { skipped } : {}) };
    }
  }
}

/** How far a schedule looks for a working day or a window opening: a year, and a little more. */
const MAX_DAYS_SCANNED = 800;

export function delayInMinutes(delay: Delay): number {
  const perUnit = { minutes: 1, hours: 60, days: 1440, business_days: (1440 * 7) / 5 } as const;
  return delay.amount * perUnit[delay.unit];
}

const parseHm = (hm: string) => {
  const [h, m] = hm.split(':').map(Number);
  return { hour: h!, minute: m! };
};

/**
 * The first instant at or after `at` inside the send window, in `zone`, on a day that is not a day
 * off. A window with start < end is the same day ("09:00"–"17:00"); "00:00"–"00:00" means the
 * whole day. Without a window, days off change nothing (the email may go at any time).
 */
export function nextWindowOpening(
  at: Date,
  window: SendWindow | null | undefined,
  zone: string,
  daysOff: HolidayCalendar = NO_DAYS_OFF,
): Date {
  return windowOpening(at, window, zone, daysOff).at;
}

function windowOpening(
  at: Date,
  window: SendWindow | null | undefined,
  zone: string,
  daysOff: HolidayCalendar,
): { at: Date; skipped?: DayOff } {
  if (!window || window.days.length === 0) return { at };
  const t = DateTime.fromJSDate(at, { zone });
  const open = parseHm(window.start);
  const close = parseHm(window.end);
  const wholeDay = window.start === window.end;
  let skipped: DayOff | undefined;
  for (let dayOffset = 0; dayOffset <= MAX_DAYS_SCANNED; dayOffset++) {
    const day = t.plus({ days: dayOffset }).startOf('day');
    if (!window.days.includes(day.weekday)) continue;
    const opens = day.set(open);
    const closes = wholeDay ? day.plus({ days: 1 }) : day.set(close);
    if (dayOffset === 0 && t >= closes) continue;
    const off = daysOff(dayOf(day));
    if (off) {
      skipped ??= off;
      continue;
    }
    if (dayOffset === 0 && t >= opens) return { at, ...(skipped ? { skipped } : {}) };
    return { at: opens.toJSDate(), ...(skipped ? { skipped } : {}) };
  }
  // Days off closed every window day the scan reached (a one-day window and a long run of
  // closures): the window alone decides, rather than sending outside it.
  return daysOff === NO_DAYS_OFF ? { at } : windowOpening(at, window, zone, NO_DAYS_OFF);
}

/** What a planned email waits for before its due time: the machine-readable answer to "why not yet?". */
export type ScheduleWait =
  { cause: 'delay'; until: string } | { cause: 'send_window'; until: string } | { cause: 'holiday'; until: string; holiday: DayOff };

export interface StepSchedule {
  at: Date;
  wait: ScheduleWait;
}

/**
 * Due time of a step: the delay counts from the previous send (or enrolment), then the window
 * applies. `notBefore` (the end of an out-of-office wait) holds a step that fell due meanwhile
 * until then, so it goes at the next window opening rather than at once at any hour. The wait
 * says what set the time: a day off that moved it, else the window, else the delay.
 */
export function stepSchedule(input: {
  previousAt: Date;
  delay: Delay;
  window: SendWindow | null | undefined;
  zone: string;
  notBefore?: Date;
  daysOff?: HolidayCalendar;
}): StepSchedule {
  const daysOff = input.daysOff ?? NO_DAYS_OFF;
  const due = delayEnd(input.previousAt, input.delay, input.zone, daysOff);
  const held = input.notBefore && input.notBefore > due.at ? input.notBefore : due.at;
  const opening = windowOpening(held, input.window, input.zone, daysOff);
  const until = opening.at.toISOString();
  const holiday = opening.skipped ?? (held.getTime() === due.at.getTime() ? due.skipped : undefined);
  if (holiday) return { at: opening.at, wait: { cause: 'holiday', until, holiday } };
  if (opening.at > held) return { at: opening.at, wait: { cause: 'send_window', until } };
  return { at: opening.at, wait: { cause: 'delay', until } };
}

export function stepDueAt(input: Parameters<typeof stepSchedule>[0]): Date {
  return stepSchedule(input).at;
}

/** Start of the next calendar day in `zone`: when a send held back by a daily cap may go. */
export function startOfNextDay(at: Date, zone: string): Date {
  return DateTime.fromJSDate(at, { zone }).plus({ days: 1 }).startOf('day').toJSDate();
}

export function startOfDay(at: Date, zone: string): Date {
  return DateTime.fromJSDate(at, { zone }).startOf('day').toJSDate();
}

export function isValidTimezone(zone: string): boolean {
  return DateTime.local().setZone(zone).isValid;
}

/** Human-readable due time for summaries: "2026-12-01 09:00 Europe/Paris". */
export function formatDue(at: Date, zone: string): string {
  return `${DateTime.fromJSDate(at, { zone }).toFormat('yyyy-LL-dd HH:mm')} ${zone}`;
}

export interface StepRef {
  id: string;
  position: number;
}

/**
 * The next step: the first step, in the current order, after the last one sent, skipping any
 * step already sent (a step is sent at most once per enrolment). If the last sent step was
 * deleted, its position at send time marks the place.
 */
export function nextStep<S extends StepRef>(steps: S[], sent: { stepId: string; position: number }[]): S | undefined {
  const ordered = [...steps].sort((a, b) => a.position - b.position);
  const sentIds = new Set(sent.map((s) => s.stepId));
  const last = sent.at(-1);
  let startIndex = 0;
  if (last) {
    const lastIndex = ordered.findIndex((s) => s.id === last.stepId);
    startIndex = lastIndex >= 0 ? lastIndex + 1 : ordered.findIndex((s) => s.position > last.position);
    if (startIndex < 0) return undefined;
  }
  return ordered.slice(startIndex).find((s) => !sentIds.has(s.id));
}
