import { DateTime } from 'luxon';
import type { DelayUnit, SendWindow } from '../db/schema.js';

// When a step is due. All rules are pure: the same inputs give the same instant, so the workflow
// can re-plan at any time (after an edit, a resume, a restart) and get a consistent answer.

export const MAX_DELAY_MINUTES = 365 * 24 * 60;

export interface Delay {
  amount: number;
  unit: DelayUnit;
}

const isWeekend = (t: DateTime) => t.weekday === 6 || t.weekday === 7;

/** Adds a step's delay in the lead's zone: "2 days" keeps the wall-clock time across a DST change. */
export function addDelay(from: Date, delay: Delay, zone: string): Date {
  const start = DateTime.fromJSDate(from, { zone });
  switch (delay.unit) {
    case 'minutes':
      return start.plus({ minutes: delay.amount }).toJSDate();
    case 'hours':
      return start.plus({ hours: delay.amount }).toJSDate();
    case 'days':
      return start.plus({ days: delay.amount }).toJSDate();
    case 'business_days': {
      let t = start;
      for (let left = delay.amount; left > 0;) {
        t = t.plus({ days: 1 });
        if (!isWeekend(t)) left--;
      }
      return t.toJSDate();
    }
  }
}

export function delayInMinutes(delay: Delay): number {
  const perUnit = { minutes: 1, hours: 60, days: 1440, business_days: (1440 * 7) / 5 } as const;
  return delay.amount * perUnit[delay.unit];
}

const parseHm = (hm: string) => {
  const [h, m] = hm.split(':').map(Number);
  return { hour: h!, minute: m! };
};

/**
 * The first instant at or after `at` inside the send window, in `zone`. A window with
 * start < end is the same day ("09:00"–"17:00"); "00:00"–"00:00" means the whole day.
 */
export function nextWindowOpening(at: Date, window: SendWindow | null | undefined, zone: string): Date {
  if (!window || window.days.length === 0) return at;
  const t = DateTime.fromJSDate(at, { zone });
  const open = parseHm(window.start);
  const close = parseHm(window.end);
  const wholeDay = window.start === window.end;
  for (let dayOffset = 0; dayOffset <= 7; dayOffset++) {
    const day = t.plus({ days: dayOffset }).startOf('day');
    if (!window.days.includes(day.weekday)) continue;
    const opens = day.set(open);
    const closes = wholeDay ? day.plus({ days: 1 }) : day.set(close);
    if (dayOffset === 0) {
      if (t < opens) return opens.toJSDate();
      if (t < closes) return at;
      continue;
    }
    return opens.toJSDate();
  }
  return at; // unreachable with a non-empty day list
}

/**
 * Due time of a step: the delay counts from the previous send (or enrolment), then the window
 * applies. `notBefore` (the end of an out-of-office wait) holds a step that fell due meanwhile
 * until then, so it goes at the next window opening rather than at once at any hour.
 */
export function stepDueAt(input: {
  previousAt: Date;
  delay: Delay;
  window: SendWindow | null | undefined;
  zone: string;
  notBefore?: Date;
}): Date {
  const due = addDelay(input.previousAt, input.delay, input.zone);
  const held = input.notBefore && input.notBefore > due ? input.notBefore : due;
  return nextWindowOpening(held, input.window, input.zone);
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
