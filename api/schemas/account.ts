import { z } from 'zod';
import { MAX_CLOSURES } from '../../domain/holidays.js';
import { closureSchema, holidayRegion, mailbox, nonBlank, timezone } from './common.js';

/** The breaker's thresholds (domain/deliverability.ts), with Gmail's guidance as the defaults. */
const deliverabilitySchema = z.object({
  windowDays: z.number().int().min(1).max(90).describe('Emails sent in the last N days are counted (default 7)'),
  minSent: z.number().int().min(1).max(100_000).describe('Below this many sent, no rate is judged (default 20)'),
  minEvents: z
    .number()
    .int()
    .min(1)
    .max(1_000)
    .describe('Below this many hard bounces (or complaints), that rate is not judged: one recipient never pauses a sequence (default 2)'),
  maxHardBounceRate: z.number().min(0.001).max(1).describe('Pause at this share of hard bounces (default 0.03: 3 %)'),
  maxComplaintRate: z
    .number()
    .min(0.0001)
    .max(1)
    .describe('Pause at this share of spam complaints (default 0.001: 0.1 %, Gmail’s guidance)'),
  graceDays: z
    .number()
    .int()
    .min(0)
    .max(90)
    .describe('After a person resumes, no new trip for this long unless the rate doubles (default 7)'),
});

export const accountPatchSchema = z
  .object({
    name: z.string().trim().min(1).max(200).meta(nonBlank),
    timezone,
    country: holidayRegion.nullable().describe('Whose public holidays apply to leads without a country of their own; null: none'),
    closures: z
      .array(closureSchema)
      .max(MAX_CLOSURES)
      // A day named twice keeps its first name: the schema cannot say "unique by date", so it is not refused.
      .transform((days) =>
        days.filter((d, i) => days.findIndex((o) => o.date === d.date) === i).sort((a, b) => a.date.localeCompare(b.date)),
      )
      .describe(`The account’s own days off (at most ${MAX_CLOSURES}), replacing the list; a day given twice keeps its first name`),
    deliverability: deliverabilitySchema
      .partial()
      .describe('The bounce and complaint breaker’s thresholds: the fields given replace those, the others stay'),
    recipientDomainDailyCap: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .nullable()
      .describe('At most this many emails a day to one recipient domain (a free-mail address counts on its own); null: no cap'),
    allowParallelEnrolment: z.boolean(),
    defaultSenderId: z.uuid().describe('The live sender that sequences without their own, and one-off emails, send as'),
    senderName: z.string().trim().max(200).describe('The default sender’s name (kept from before there were senders; see /v1/senders)'),
    senderEmail: mailbox.nullable().describe('The default sender’s address; a new one must be confirmed again'),
    signature: z.string().max(5000).describe('The default sender’s signature'),
    companyName: z.string().trim().max(200),
    postalAddress: z.string().trim().max(500),
    logoUrl: z.url({ protocol: /^https$/ }).nullable(),
    brandColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #2563eb'),
    portalWebhookUrl: z.url({ protocol: /^https?$/ }).nullable(),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' })
  .meta({ override: { minProperties: 1 } });

export const accountSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  timezone: z.string(),
  country: z.string().nullable(),
  closures: z.array(closureSchema),
  deliverability: deliverabilitySchema,
  recipientDomainDailyCap: z.number().int().nullable(),
  allowParallelEnrolment: z.boolean(),
  plan: z.string(),
  limits: z.object({
    maxSequences: z.number().nullable(),
    maxStepsPerSequence: z.number().nullable(),
    maxActiveEnrolments: z.number().nullable(),
    maxEmailsPerDay: z.number().nullable(),
  }),
  defaultSenderId: z.uuid().nullable().describe('Null until the account has a sender'),
  senderName: z.string().describe('The default sender’s name ("" without one)'),
  senderEmail: z.string().nullable().describe('The default sender’s address'),
  signature: z.string().describe('The default sender’s signature'),
  companyName: z.string(),
  postalAddress: z.string(),
  logoUrl: z.string().nullable(),
  brandColor: z.string(),
  portalWebhookUrl: z.string().nullable(),
  sendingDomain: z.string().nullable(),
  sendingDomainVerified: z.boolean(),
  portalWebhookSecret: z.string().optional().describe('Only in the answer of the change that issued it'),
});

export const portalWebhookSecretSchema = z.object({
  portalWebhookSecret: z.string(),
  previousSecretExpiresAt: z.iso.datetime().nullable().describe('Until when the previous secret also signs (null: there was none)'),
});

/** The two answers of asking for a sender confirmation: 200 already confirmed, 202 link sent. */
export const senderConfirmedSchema = z.object({ to: z.string(), confirmed: z.literal(true) });
export const senderConfirmationSentSchema = z.object({ to: z.string(), confirmed: z.literal(false), providerId: z.string() });
export const senderConfirmationSchema = z.discriminatedUnion('confirmed', [senderConfirmedSchema, senderConfirmationSentSchema]);

/** `/confirm-sender/{token}`: the link in the confirmation email. */
export const confirmationTokenParams = z.object({
  token: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.\d{1,12}\.[A-Za-z0-9_-]{32}$/)
    .describe('<account id>.<expiry>.<signature> from the confirmation email'),
});
