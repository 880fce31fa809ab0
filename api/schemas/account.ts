import { z } from 'zod';
import { MAX_CLOSURES } from '../../domain/holidays.js';
import { closureSchema, holidayRegion, mailbox, nonBlank, timezone } from './common.js';

export const accountPatchSchema = z
  .object({
    name: z.string().trim().min(1).max(200).meta(nonBlank),
    timezone,
    country: holidayRegion.nullable().describe('Whose public holidays apply to leads without a country of their own; null: none'),
    closures: z
      .array(closureSchema)
      .max(MAX_CLOSURES)
      .refine((days) => new Set(days.map((d) => d.date)).size === days.length, { message: 'each day at most once' })
      .describe(`The account’s own days off (at most ${MAX_CLOSURES}): replaces the list`),
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
