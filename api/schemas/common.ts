import { z } from 'zod';
import { isHolidayRegion } from '../../domain/holidays.js';
import { isValidTimezone } from '../../domain/schedule.js';

export const uuidParam = z.uuid({ message: 'must be an id (UUID)' });
export const idParams = z.object({ id: uuidParam });
export const stepParams = z.object({ id: uuidParam, stepId: uuidParam });

/** Trimmed, then at least one character: the document says "a character that is not white space". */
export const nonBlank = { override: { pattern: '[^\\s\\ufeff]' } };

/**
 * Checked against the IANA database (luxon): the document names a format of its own with its
 * rule in words, as the list of zones is too long an enum to repeat in every schema.
 */
export const timezone = z
  .string()
  .max(64)
  .refine(isValidTimezone, { message: 'must be an IANA time zone such as Europe/Paris' })
  .meta({
    description: 'An IANA time zone name such as Europe/Paris or America/New_York (or UTC); an unknown zone is refused (400)',
    override: { format: 'iana-time-zone' },
  });

/**
 * Whose public holidays apply: a country (ISO 3166-1 alpha-2, "FR") or a country and its
 * subdivision ("DE-BY", "US-CA") that date-holidays knows; upper-cased, an unknown one refused.
 */
export const holidayRegion = z
  .string()
  .trim()
  .max(10)
  .toUpperCase()
  .refine(isHolidayRegion, {
    message: 'must be a country code such as FR, or a country and region such as DE-BY, that has a holiday calendar',
  })
  .meta({
    description:
      'A country (ISO 3166-1 alpha-2, such as FR) or a country and its region (ISO 3166-2, such as DE-BY or US-CA): whose public holidays apply. A code without a holiday calendar is refused (400)',
    override: { format: 'holiday-region' },
  });

/** One of the account's own days off. */
export const closureSchema = z.object({
  date: z.iso.date().describe('The day, YYYY-MM-DD, in each lead’s time zone'),
  name: z.string().trim().min(1).max(100).meta(nonBlank).describe('What the day is, as “why hasn’t it sent?” names it'),
});

/**
 * A mailbox we may write to: an address as zod reads one, at most 254 characters with a local
 * part of at most 64 (RFC 5321), lower-cased.
 */
export const mailbox = z
  .email()
  .max(254)
  .refine((address) => address.split('@')[0]!.length <= 64, { message: 'the part before @ is at most 64 characters' })
  .transform((address) => address.toLowerCase());

/** Keyset cursors: "<iso time>|<id>", opaque to clients. */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

// Exactly what toISOString gives for the years PostgreSQL and JavaScript share (0001-9999; there
// is no year 0 in PostgreSQL): a cursor naming year 0, −10000 or 275000 is not one we made.
const ISO_TIME = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export function decodeCursor(cursor: string): { at: Date; id: string } | undefined {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (rest.length || !at || !ISO_TIME.test(at) || !id || !uuidParam.safeParse(id).success) return undefined;
  const date = new Date(at);
  if (Number.isNaN(date.getTime()) || date.toISOString() !== at) return undefined;
  return { at: date, id };
}

/** `?cursor=`: the `nextCursor` of a previous page; anything else is a 400 naming `cursor`. */
export const cursorParam = z
  .string()
  .max(200)
  .transform((value, ctx) => {
    const decoded = decodeCursor(value);
    if (!decoded) {
      ctx.addIssue({ code: 'custom', message: 'must be the nextCursor of a previous page' });
      return z.NEVER;
    }
    return decoded;
  })
  .meta({
    description: 'The nextCursor of the previous page (base64url of "<ISO time>|<id>"); anything else is refused (400, field cursor)',
    override: { type: 'string', maxLength: 200, format: 'page-cursor' },
  });

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: cursorParam.optional(),
});

/** A page of a list: `nextCursor` is null on the last one. */
export const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), nextCursor: z.string().nullable() });

/** What the API key rate limit answers with (IETF draft-8 headers, and Retry-After on a 429). */
export const rateLimitHeaders = z.object({
  'Retry-After': z.string().regex(/^\d+$/).describe('Seconds until the window resets'),
  RateLimit: z.string().describe('IETF draft-8 RateLimit: remaining requests and seconds to reset'),
  'RateLimit-Policy': z.string().describe('IETF draft-8 RateLimit-Policy: the limit and its window'),
});
/** The same on a 429 that may be another refusal: the limiter's headers come with rate_limited alone. */
export const rateLimitHeadersIfRateLimited = z.object({
  'Retry-After': z.string().regex(/^\d+$/).optional().describe('With rate_limited: seconds until the window resets'),
  RateLimit: z.string().optional().describe('With the API key rate limit on: remaining requests and seconds to reset'),
  'RateLimit-Policy': z.string().optional().describe('With the API key rate limit on: the limit and its window'),
});

/** A body that is not JSON (an HTML page, Prometheus text, a raw MIME message), and any JSON object. */
export const textBody = z.string();
export const jsonObject = z.record(z.string(), z.unknown());
