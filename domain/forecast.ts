import { DateTime } from 'luxon';
import type { SendWindow, WaitingCause, WaitingFor } from '../db/schema.js';
import type { HolidayCalendar } from './holidays.js';
import { nextWindowOpening, stepSchedule, type Delay } from './schedule.js';

// What a sequence will send in the coming days: every live enrolment played forward by the same
// rules the workflow plans with (delays, windows, holidays) and the caps the send applies (the
// account's, each sender's, per recipient domain, new leads a day), in due order, so that an email
// a cap holds moves to the next opening and takes its later steps with it. Pure: the service
// loads the enrolments and today's counts.

export interface ForecastEnrolment {
  id: string;
  status: 'active' | 'paused';
  /** Index of its next step in `steps`; null: nothing left to send. */
  nextStep: number | null;
  /** When its next email is due as planned; null: not planned yet, due by its delay from `previousAt`. */
  nextDueAt: Date | null;
  /** Its last email's send, or its enrolment. */
  previousAt: Date;
  waitingFor: WaitingFor | null;
  /** Its first email has gone: the new-leads cap no longer counts it. */
  started: boolean;
  /** In the experiment holdout: step 1 only. */
  holdout: boolean;
  zone: string;
  daysOff: HolidayCalendar;
  /** Identifies `daysOff` (its region and closures) for reuse of computed schedules. */
  daysOffKey: string;
  senderId: string | null;
  recipientKey: string;
}

export interface ForecastInput {
  steps: { id: string; delay: Delay }[];
  window: SendWindow | null;
  enrolments: ForecastEnrolment[];
  /** The account's zone: the forecast's days, and the day of its caps. */
  zone: string;
  caps: {
    accountDaily: number | null;
    senders: Map<string, { cap: number; zone: string }>;
    recipientDaily: number | null;
    newLeadsPerDay: number | null;
  };
  /** What today's counts already hold (sent before the forecast). */
  sentToday: { account: number; bySender: Map<string, number>; byRecipient: Map<string, number>; newLeads: number };
  now: Date;
  days: number;
}

export type HeldCause = Exclude<WaitingCause, 'delay'>;

export interface Forecast {
  days: { date: string; byStep: Record<string, number>; total: number }[];
  /** Emails of the coming days whose time a cause moved (or, for a pause, that wait for a person or the breaker). */
  heldBack: Partial<Record<HeldCause, number>>;
}

interface Event {
  at: number;
  order: number;
  enrolment: ForecastEnrolment;
  step: number;
  /** The causes that already moved this email: each is counted once per email. */
  held: Set<HeldCause>;
  /** The cause that set its due time, counted once it is known to fall within the forecast. */
  pending?: HeldCause;
}

/** A binary min-heap by time, then by the order the email first fell due (a cap's queue is first in, first out). */
class Queue {
  private items: Event[] = [];
  private less = (a: Event, b: Event) => a.at < b.at || (a.at === b.at && a.order < b.order);
  get size() {
    return this.items.length;
  }
  push(e: Event) {
    const items = this.items;
    items.push(e);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): Event {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length) {
      items[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

const HOLDING: readonly WaitingCause[] = ['send_window', 'holiday', 'daily_cap', 'domain_cap', 'new_leads_cap', 'provider_quota'];

/**
 * The day boundaries of one zone across the forecast, computed once: which day an instant falls
 * in is then a search of a few dozen numbers, not a time-zone conversion per email.
 */
function dayClock(zone: string, from: Date, days: number) {
  const first = DateTime.fromJSDate(from, { zone }).startOf('day').minus({ days: 1 });
  const starts = Array.from({ length: days + 3 }, (_, i) => first.plus({ days: i }).toMillis());
  const index = (ms: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    if (ms < starts[0]! || ms >= starts[hi]!) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= ms) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  return { index, startOf: (i: number) => starts[i]! };
}

export function forecastSequence(input: ForecastInput): Forecast {
  const { steps, window, zone, caps, now, days } = input;
  const first = DateTime.fromJSDate(now, { zone }).startOf('day');
  const end = first.plus({ days }).toMillis();
  const dates = Array.from({ length: days }, (_, i) => first.plus({ days: i }).toFormat('yyyy-LL-dd'));
  const clocks = new Map<string, ReturnType<typeof dayClock>>();
  const clockOf = (z: string) => {
    let clock = clocks.get(z);
    if (!clock) clocks.set(z, (clock = dayClock(z, now, days)));
    return clock;
  };
  const accountClock = clockOf(zone);
  // Index 0 of a clock is the day before today: day i of the forecast is index i + 1.
  const dayIndex = (ms: number) => accountClock.index(ms) - 1;
  const byDay = dates.map(() => new Map<string, number>());
  const heldBack: Partial<Record<HeldCause, number>> = {};
  const hold = (e: Event, cause: HeldCause) => {
    if (e.held.has(cause)) return;
    e.held.add(cause);
    heldBack[cause] = (heldBack[cause] ?? 0) + 1;
  };

  // The schedule of a step from a previous send: reused for every enrolment of the same zone and
  // days off whose previous send fell in the same minute (a bulk enrolment plans one, not 10,000).
  const planned = new Map<string, { offset: number; cause: WaitingCause }>();
  const schedule = (e: ForecastEnrolment, step: number, previousAt: number) => {
    const minute = Math.floor(previousAt / 60_000) * 60_000;
    const key = `${step}|${minute}|${e.zone}|${e.daysOffKey}`;
    let hit = planned.get(key);
    if (!hit) {
      const { at, wait } = stepSchedule({
        previousAt: new Date(minute),
        delay: steps[step]!.delay,
        window,
        zone: e.zone,
        daysOff: e.daysOff,
      });
      hit = { offset: at.getTime() - minute, cause: wait.cause };
      planned.set(key, hit);
    }
    return { at: minute + hit.offset + (previousAt - minute), cause: hit.cause };
  };

  const queue = new Queue();
  let order = 0;
  for (const e of input.enrolments) {
    if (e.nextStep === null) continue;
    if (e.status === 'paused') {
      const cause = (e.waitingFor?.cause ?? 'paused') as HeldCause;
      heldBack[cause] = (heldBack[cause] ?? 0) + 1;
      continue;
    }
    const due = e.nextDueAt ? { at: e.nextDueAt.getTime(), cause: e.waitingFor?.cause } : schedule(e, e.nextStep, e.previousAt.getTime());
    const pending = due.cause && HOLDING.includes(due.cause) ? (due.cause as HeldCause) : undefined;
    queue.push({ at: Math.max(due.at, now.getTime()), order: order++, enrolment: e, step: e.nextStep, held: new Set(), pending });
  }

  // Counts per cap and day: "<cap>|<day index in the cap's zone>".
  const counts = new Map<string, number>();
  const today = (capZone: string) => clockOf(capZone).index(now.getTime());
  counts.set(`account|${today(zone)}`, input.sentToday.account);
  counts.set(`new-leads|${today(zone)}`, input.sentToday.newLeads);
  for (const [id, n] of input.sentToday.bySender) counts.set(`sender:${id}|${today(caps.senders.get(id)?.zone ?? zone)}`, n);
  for (const [key, n] of input.sentToday.byRecipient) counts.set(`recipient:${key}|${today(zone)}`, n);
  // Where a held email goes: the window's first opening after the cap's next day starts, per lead zone and days off.
  const openings = new Map<string, number>();
  const openingAfter = (dayStart: number, e: ForecastEnrolment) => {
    const key = `${dayStart}|${e.zone}|${e.daysOffKey}`;
    let at = openings.get(key);
    if (at === undefined) openings.set(key, (at = nextWindowOpening(new Date(dayStart), window, e.zone, e.daysOff).getTime()));
    return at;
  };

  while (queue.size) {
    const event = queue.pop();
    if (event.at >= end) continue;
    if (event.pending) hold(event, event.pending);
    event.pending = undefined;
    const e = event.enrolment;
    const sender = e.senderId ? caps.senders.get(e.senderId) : undefined;
    const day = accountClock.index(event.at);
    const checks: { key: string; cap: number | null; clock: ReturnType<typeof dayClock>; day: number; cause: HeldCause }[] = [
      { key: `account|${day}`, cap: caps.accountDaily, clock: accountClock, day, cause: 'daily_cap' },
      { key: `recipient:${e.recipientKey}|${day}`, cap: caps.recipientDaily, clock: accountClock, day, cause: 'domain_cap' },
    ];
    if (sender) {
      const clock = clockOf(sender.zone);
      const senderDay = clock.index(event.at);
      checks.splice(1, 0, { key: `sender:${e.senderId}|${senderDay}`, cap: sender.cap, clock, day: senderDay, cause: 'daily_cap' });
    }
    if (!e.started) checks.push({ key: `new-leads|${day}`, cap: caps.newLeadsPerDay, clock: accountClock, day, cause: 'new_leads_cap' });
    const full = checks.find((c) => c.cap !== null && (counts.get(c.key) ?? 0) >= c.cap);
    if (full) {
      // Held for the cap's next day, at the window's opening then, in the order it first fell due.
      hold(event, full.cause);
      if (full.day + 1 > days) continue; // its next day is past the forecast
      event.at = openingAfter(full.clock.startOf(full.day + 1), e);
      queue.push(event);
      continue;
    }
    for (const c of checks) if (c.cap !== null) counts.set(c.key, (counts.get(c.key) ?? 0) + 1);
    const counted = byDay[dayIndex(event.at)];
    const stepId = steps[event.step]!.id;
    if (counted) counted.set(stepId, (counted.get(stepId) ?? 0) + 1);
    const sentFirst = !e.started;
    e.started = true;
    if (e.holdout && sentFirst) continue;
    const next = event.step + 1;
    if (next >= steps.length) continue;
    const due = schedule(e, next, event.at);
    const pendingCause = due.cause === 'delay' ? undefined : (due.cause as HeldCause);
    queue.push({ at: due.at, order: order++, enrolment: e, step: next, held: new Set(), pending: pendingCause });
  }

  return {
    days: dates.map((date, i) => {
      const byStep = Object.fromEntries(steps.map((s) => [s.id, byDay[i]!.get(s.id) ?? 0]));
      return { date, byStep, total: Object.values(byStep).reduce((a, b) => a + b, 0) };
    }),
    heldBack,
  };
}
