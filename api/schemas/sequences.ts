import { z } from 'zod';
import { PROTECTION_CAUSES } from '../../domain/deliverability.js';
import {
  COLLEAGUE_SCOPES,
  DELAY_UNITS,
  EMAIL_FORMATS,
  LEAD_EVENT_NAMES,
  ON_COLLEAGUE_REPLY_ACTIONS,
  ON_REPLY_ACTIONS,
  VARIANT_STATUSES,
} from '../../db/schema.js';
import { nonBlank, page, stepParams, uuidParam } from './common.js';
import { enrolmentCountsSchema } from './enrolments.js';
import { MAX_DELAY_MINUTES, delayInMinutes } from '../../domain/schedule.js';
import { MAX_HOLDOUT_PERCENT, MAX_WEIGHT, MIN_WEIGHT, VARIANT_LABELS } from '../../domain/experiment.js';
import { MAX_VARIANTS, MIN_VARIANTS } from '../../domain/experiment-stats.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time as HH:MM');

export const sendWindowSchema = z
  .object({
    days: z.array(z.number().int().min(1).max(7)).min(1).max(7).describe('ISO weekdays: 1 = Monday … 7 = Sunday'),
    start: hhmm,
    end: hhmm,
  })
  .refine((w) => w.start === w.end || w.start < w.end, { message: 'start must be before end', path: ['end'] })
  .meta({ description: 'Local time of the lead (or the account); start is not after end, or the window is refused (400)' });

/**
 * At most 365 days, stated per unit so the OpenAPI document carries the maximum (a oneOf on
 * `unit`): 525,600 minutes, 8,760 hours, 365 days or 260 business days (7/5 of a day each).
 */
const delayOf = <U extends (typeof DELAY_UNITS)[number]>(unit: U) =>
  z.object({
    amount: z
      .number()
      .int()
      .min(0)
      .max(Math.floor(MAX_DELAY_MINUTES / delayInMinutes({ amount: 1, unit })), 'must be at most 365 days'),
    unit: z.literal(unit),
  });
export const delaySchema = z.discriminatedUnion('unit', [delayOf('minutes'), delayOf('hours'), delayOf('days'), delayOf('business_days')]);

/**
 * A body of 20,000 characters is about 3,000 words, far beyond any sales email; the bound keeps
 * every render (Markdown, sanitising, the text part) to milliseconds. See domain/merge-fields.ts
 * for what a template may do.
 */
export const MAX_BODY_LENGTH = 20_000;
/** Steps one request may create: each is checked, so one request's work stays bounded. */
export const MAX_STEPS_PER_REQUEST = 50;

const subjectSchema = z.string().trim().min(1).max(998).meta(nonBlank);
const bodySchema = z.string().min(1).max(MAX_BODY_LENGTH);

const weightSchema = z
  .number()
  .int()
  .min(MIN_WEIGHT)
  .max(MAX_WEIGHT)
  .describe('Relative share of the step’s new assignments: weights 3 and 1 send three in four enrolments to the first');
/** A version of a step's subject and body in an experiment (docs/concepts.md, "Experiments: variants and the holdout"). */
export const variantInputSchema = z.object({ subject: subjectSchema, body: bodySchema, weight: weightSchema.default(1) });
export const variantPatchSchema = z
  .object({ subject: subjectSchema, body: bodySchema, weight: weightSchema })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' })
  .meta({ override: { minProperties: 1 } });

const variantsSchema = z
  .array(variantInputSchema)
  .min(MIN_VARIANTS)
  .max(MAX_VARIANTS)
  .describe(
    `${MIN_VARIANTS}–${MAX_VARIANTS} versions of the step, labelled A, B, C… in this order; the step keeps variant A’s subject and body for views that show one. Leave out the step’s own subject and body when giving variants`,
  );

/**
 * A step is its own subject and body, or variants (then the step mirrors variant A): never both,
 * so there is no second copy of variant A's content to disagree with it. The document states the
 * same rule, so a generated request is valid exactly when the server accepts it.
 */
const eitherContentOrVariants = (v: { subject?: unknown; body?: unknown; variants?: unknown }, ctx: z.RefinementCtx, create: boolean) => {
  for (const field of ['subject', 'body'] as const) {
    if (v.variants !== undefined && v[field] !== undefined)
      ctx.addIssue({ code: 'custom', path: [field], message: `leave out ${field} when giving variants: the step takes variant A’s` });
    else if (create && v.variants === undefined && v[field] === undefined)
      ctx.addIssue({ code: 'custom', path: [field], message: `${field} is required (or give variants)` });
  }
};
const notContentAndVariants = { anyOf: [{ required: ['variants', 'subject'] }, { required: ['variants', 'body'] }] };

const stepFields = z.object({
  subject: subjectSchema.optional(),
  body: bodySchema.optional(),
  delay: delaySchema,
  variants: variantsSchema.optional(),
  inThread: z
    .boolean()
    .nullable()
    .optional()
    .describe(
      'Sent as a reply in the thread of the enrolment’s previous email (Re: its subject as the lead received it, In-Reply-To and References: the step’s own subject is then not used), or as a new email; null or left out: every step after the first goes in the thread',
    ),
  quotePrevious: z.boolean().optional().describe('A reply in the thread quotes the previous email below it, as mail clients do'),
});
export const stepInputSchema = stepFields
  .superRefine((v, ctx) => eitherContentOrVariants(v, ctx, true))
  .meta({ override: { anyOf: [{ required: ['subject', 'body'] }, { required: ['variants'] }], not: notContentAndVariants } });
// `{}` is refused (nothing to change): minProperties says so in the document.
const atLeastOne = { override: { minProperties: 1 } };
export const stepPatchSchema = stepFields
  .partial()
  .superRefine((v, ctx) => {
    if (Object.keys(v).length === 0) ctx.addIssue({ code: 'custom', message: 'nothing to change' });
    eitherContentOrVariants(v, ctx, false);
  })
  .meta({
    override: { minProperties: 1, not: notContentAndVariants },
    description:
      'variants turn a step without them into an experiment; a step with variants changes them through /variants, and its subject and body with them (409 step_has_variants otherwise)',
  });

const holdoutPercent = z
  .number()
  .int()
  .min(0)
  .max(MAX_HOLDOUT_PERCENT)
  .describe(
    'Share of new enrolments that get step 1 and no follow-up (the experiment holdout); decided once per enrolment at its first plan',
  );

/** Days an enrolment waits after an out-of-office reply that names no return date. */
const outOfOfficeDays = z
  .number()
  .int()
  .min(1)
  .max(60)
  .describe('Days to wait after an out-of-office reply that names no return date (with a date: until the next business day after it)');

const onColleagueReply = z
  .enum(ON_COLLEAGUE_REPLY_ACTIONS)
  .describe(
    'What a reply from one lead does to the live enrolments of the lead’s colleagues (same company id, else same email domain, free mail aside)',
  );
const colleagueScope = z
  .enum(COLLEAGUE_SCOPES)
  .describe('Where those colleagues’ enrolments are: this sequence, or every sequence of the account');
/** A portal event's name: one of ours, or the portal's own (letters, digits, _ . -). */
export const leadEventName = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'must be an event name such as meeting_booked (lower-case letters, digits, _ . -)')
  .describe(`${LEAD_EVENT_NAMES.join(', ')}, or a name of the portal's own`);
const leadEventRules = z
  .object({
    stop: z.array(leadEventName).max(50),
    pause: z.array(leadEventName).max(50),
  })
  .refine((r) => !r.stop.some((name) => r.pause.includes(name)), { message: 'an event either stops or pauses, not both', path: ['pause'] })
  .describe('Which portal events about a lead (POST /v1/leads/{id}/events) stop or pause its enrolment in this sequence');
const DEFAULT_LEAD_EVENT_RULES = { stop: ['meeting_booked', 'deal_won', 'deal_lost'], pause: [] };

const senderId = z
  .uuid()
  .nullable()
  .describe('The live sender its enrolments send as unless an enrolment names another; null: the account’s default sender');

const newLeadsPerDay = z
  .number()
  .int()
  .min(1)
  .max(100_000)
  .nullable()
  .describe(
    'At most this many new leads started (first emails) a day, in the account’s zone; follow-ups are never held by it. Null: no cap',
  );

/** A trip of the bounce and complaint breaker (domain/deliverability.ts). */
export const protectionSchema = z.object({
  cause: z.enum(PROTECTION_CAUSES),
  scope: z
    .enum(['sequence', 'sender', 'account'])
    .describe('Whose rate crossed the threshold: the sequence’s, the sender’s, or the whole account’s'),
  sent: z.number().int().describe('Emails sent in the window'),
  count: z.number().int().describe('Of those, hard bounces (bounce_protection) or spam complaints (complaint_protection)'),
  rate: z.number(),
  threshold: z.number(),
  windowDays: z.number().int(),
  trippedAt: z.iso.datetime(),
  resumedAt: z.iso
    .datetime()
    .nullable()
    .describe('When a person resumed it; the breaker then lets it be for the grace period unless the rate doubles'),
});

const skipHolidays = z
  .boolean()
  .describe(
    'Business-day delays and the send window skip the lead’s public holidays (its country, else the account’s) and the account’s closures',
  );

const format = z
  .enum(EMAIL_FORMATS)
  .describe(
    'branded: the account’s MJML layout; plain: a personal note (text with a minimal HTML twin, no images, the unsubscribe line and postal address as short text)',
  );

export const sequenceCreateSchema = z.object({
  name: z.string().trim().min(1).max(200).meta(nonBlank),
  senderId: senderId.default(null),
  format: format.default('branded'),
  onReply: z.enum(ON_REPLY_ACTIONS).default('stop'),
  sendWindow: sendWindowSchema.nullable().default(null),
  skipHolidays: skipHolidays.default(true),
  newLeadsPerDay: newLeadsPerDay.default(null),
  outOfOfficeDays: outOfOfficeDays.default(7),
  onColleagueReply: onColleagueReply.default('nothing'),
  colleagueScope: colleagueScope.default('sequence'),
  leadEventRules: leadEventRules.default(DEFAULT_LEAD_EVENT_RULES),
  holdoutPercent: holdoutPercent.default(0),
  steps: z
    .array(stepInputSchema)
    .max(MAX_STEPS_PER_REQUEST, `at most ${MAX_STEPS_PER_REQUEST} steps per request; add more with POST /v1/sequences/{id}/steps`)
    .default([]),
});
export const sequencePatchSchema = z
  .object({
    name: z.string().trim().min(1).max(200).meta(nonBlank),
    onReply: z.enum(ON_REPLY_ACTIONS),
    sendWindow: sendWindowSchema.nullable(),
    skipHolidays,
    newLeadsPerDay,
    outOfOfficeDays,
    onColleagueReply,
    colleagueScope,
    leadEventRules,
    holdoutPercent,
    senderId: senderId.describe('Enrolments already made keep the sender they were enrolled with'),
    format,
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' })
  .meta(atLeastOne);

export const stepOrderSchema = z.object({ stepIds: z.array(z.uuid()).min(1).max(1000) });

export const stepVariantSchema = z.object({
  id: z.uuid(),
  label: z.enum(VARIANT_LABELS),
  subject: z.string(),
  body: z.string(),
  weight: z.number().int(),
  status: z
    .enum(VARIANT_STATUSES)
    .describe('active and winner variants are assigned; stopped (by a guardrail), removed and lost ones are kept with their emails'),
  endedReason: z.string().nullable().describe('Why it is no longer assigned, in words'),
  endedAt: z.iso.datetime().nullable(),
});

export const stepSchema = z.object({
  id: z.uuid(),
  position: z.number().int(),
  subject: z.string().describe('With variants: the subject of the winner, else of the first assignable variant by label'),
  body: z.string().describe('With variants: the body of the winner, else of the first assignable variant by label'),
  delay: z.object({ amount: z.number().int(), unit: z.enum(DELAY_UNITS) }),
  variants: z.array(stepVariantSchema).describe('Every variant the step has had, by label; empty for a step that is no experiment'),
  inThread: z
    .boolean()
    .nullable()
    .describe('Its choice: in the thread, a new email, or null (by position: the first step new, the others in the thread)'),
  quotePrevious: z.boolean(),
  winnerVariantId: z.uuid().nullable(),
  updatedAt: z.iso.datetime(),
});
/** A variant removed or declared the winner: the step, and how many unsent enrolments moved off the variants left behind. */
export const stepVariantChangeSchema = stepSchema.extend({
  moved: z.number().int().describe('Enrolments whose email for this step was unsent and that now go as another variant'),
});
export const variantParams = stepParams.extend({ variantId: uuidParam });

export const sequenceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['active', 'paused', 'archived']),
  onReply: z.enum(ON_REPLY_ACTIONS),
  sendWindow: z.object({ days: z.array(z.number()), start: z.string(), end: z.string() }).nullable(),
  skipHolidays,
  newLeadsPerDay,
  protection: protectionSchema
    .nullable()
    .describe('The bounce and complaint breaker’s last trip: why it paused the sequence; null if it never did'),
  outOfOfficeDays: z.number().int(),
  onColleagueReply: z.enum(ON_COLLEAGUE_REPLY_ACTIONS),
  colleagueScope: z.enum(COLLEAGUE_SCOPES),
  leadEventRules: z.object({ stop: z.array(z.string()), pause: z.array(z.string()) }),
  holdoutPercent,
  senderId: z.uuid().nullable().describe('Its default sender; null: the account’s'),
  format,
  steps: z.array(stepSchema),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const sequenceDetailSchema = sequenceSchema.extend({ enrolmentCounts: enrolmentCountsSchema });
/** A sequence-wide pause, resume or archive: accepted, and carried out by the broadcast workflow it names. */
export const sequenceBroadcastSchema = sequenceSchema.extend({ broadcastId: z.string() });
export const sequencePageSchema = page(sequenceSchema);
