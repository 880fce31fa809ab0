import Holidays from 'date-holidays';

// Which days nobody sends: the public holidays of a lead's country (from date-holidays, a
// maintained calendar of about 200 countries and their regions) and an account's own closures.
// Pure for a given library version: the same region and day always give the same answer, so
// plans made at any time agree.

/** A day on which business-day delays and send windows do not count or open. */
export interface DayOff {
  /** The calendar day, YYYY-MM-DD, in the zone the schedule is computed in (the lead's). */
  date: string;
  name: string;
  /** The holiday's region ("GB", "DE-BY"), or absent for one of the account's closures. */
  region?: string;
}

/** Answers whether a calendar day (YYYY-MM-DD) is a day off, and which. */
export type HolidayCalendar = (date: string) => DayOff | null;

export const NO_DAYS_OFF: HolidayCalendar = () => null;

/** An account's own closure: a company holiday, an office move, a day of mourning. */
export interface Closure {
  date: string;
  name: string;
}

export const MAX_CLOSURES = 200;

const regionPattern = /^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$/;

let countries: Record<string, string> | undefined;
const statesOf = new Map<string, Record<string, string>>();

/**
 * Whether `code` is a region the holiday calendar knows: an ISO 3166-1 alpha-2 country ("FR"),
 * or a country and one of its subdivisions ("DE-BY", "US-CA") whose holidays differ.
 */
export function isHolidayRegion(code: string): boolean {
  const match = regionPattern.exec(code);
  if (!match) return false;
  const [, country, state] = match;
  countries ??= new Holidays().getCountries('en');
  if (!countries[country!]) return false;
  if (!state) return true;
  if (!statesOf.has(country!)) statesOf.set(country!, new Holidays().getStates(country!, 'en') ?? {});
  return Boolean(statesOf.get(country!)![state]);
}

// The public holidays of one region in one year, by day. Built once per region and year (a few
// milliseconds), kept for the process's life: regions × the years plans reach is a small set, and
// the bound only guards against a pathological spread.
const MAX_CACHED_YEARS = 2_000;
const yearCache = new Map<string, Map<string, string>>();

function publicHolidays(region: string, year: number): Map<string, string> {
  const key = `${region}:${year}`;
  let days = yearCache.get(key);
  if (days) return days;
  const [country, state] = region.split('-');
  const calendar = state ? new Holidays(country!, state, { languages: ['en'] }) : new Holidays(country!, { languages: ['en'] });
  days = new Map();
  // Only public holidays: "bank" days (afternoons off on Christmas Eve), observances (Mother's
  // Day) and optional ones are working days for most recipients.
  for (const holiday of calendar.getHolidays(year, 'en') || []) {
    if (holiday.type !== 'public') continue;
    const day = holiday.date.slice(0, 10);
    if (!days.has(day)) days.set(day, holiday.name);
  }
  if (yearCache.size >= MAX_CACHED_YEARS) yearCache.clear();
  yearCache.set(key, days);
  return days;
}

/**
 * The days off of a lead: their region's public holidays (null: none known) and the account's
 * closures. A closure on a public holiday is named as the closure (the account's word wins).
 */
export function holidayCalendar(region: string | null, closures: readonly Closure[] = []): HolidayCalendar {
  const closed = new Map(closures.map((c) => [c.date, c.name]));
  const known = region && isHolidayRegion(region) ? region : null;
  if (!known && closed.size === 0) return NO_DAYS_OFF;
  return (date) => {
    const closure = closed.get(date);
    if (closure !== undefined) return { date, name: closure };
    if (!known) return null;
    const name = publicHolidays(known, Number(date.slice(0, 4))).get(date);
    return name === undefined ? null : { date, name, region: known };
  };
}

/**
 * The days off of a sequence's leads: each lead's region (else the account's) and the account's
 * closures, one calendar per region however many leads share it; none when the sequence sends on
 * them (`skipHolidays: false`). `key` names the calendar, for reuse of what was computed with it.
 */
export function sequenceDaysOff(
  sequence: { skipHolidays: boolean },
  account: { country: string | null; closures: readonly Closure[] },
): (leadRegion: string | null) => { key: string; calendar: HolidayCalendar } {
  const calendars = new Map<string, HolidayCalendar>();
  return (leadRegion) => {
    if (!sequence.skipHolidays) return { key: 'none', calendar: NO_DAYS_OFF };
    const region = leadRegion ?? account.country;
    const key = region ?? '';
    let calendar = calendars.get(key);
    if (!calendar) calendars.set(key, (calendar = holidayCalendar(region, account.closures)));
    return { key, calendar };
  };
}
