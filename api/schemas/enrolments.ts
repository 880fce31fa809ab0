import { z } from 'zod';
import { ENROLMENT_STATUSES, MESSAGE_STATUSES, ON_REPLY_ACTIONS, type EnrolmentEventType } from '../../db/schema.js';
import { REFUSAL_MESSAGES, type EnrolRefusal } from '../../domain/enrolment-rules.js';
import { INBOUND_ACTIONS, INBOUND_CLASSES } from '../../domain/inbound-policy.js';
import { LEAD_EVENT_ACTIONS } from '../../domain/lead-events.js';
import { cursorParam, page } from './common.js';
import { PAUSED_BY, WAITING_CAUSES } from '../../domain/waiting-for.js';
import { MAX_BULK, leadSchema } from './leads.js';

const iso = z.iso.datetime();

const dayOff = z.object({
  date: z.iso.date(),
  name: z.string(),
  region: z.string().optional().describe('Whose public holiday ("GB", "DE-BY"); absent for one of the account’s closures'),
});
/** "Why hasn't it sent yet?": one shape per cause (domain/waiting-for.ts). */
export const waitingForSchema = z.discriminatedUnion('cause', [
  z.object({ cause: z.literal('delay'), until: iso }).describe('The step’s delay runs until then'),
  z.object({ cause: z.literal('send_window'), until: iso }).describe('Due, and waiting for the send window to open'),
  z.object({ cause: z.literal('holiday'), until: iso, holiday: dayOff }).describe('Moved past a public holiday or a closure'),
  z
    .object({
      cause: z.literal('daily_cap'),
      scope: z.enum(['account', 'sender']),
      senderId: z.uuid().optional(),
      cap: z.number().int(),
      until: iso,
    })
    .describe('A daily cap (the account’s or its sender’s) is reached: waits for the cap’s next day'),
  z
    .object({ cause: z.literal('domain_cap'), domain: z.string(), cap: z.number().int(), until: iso })
    .describe(
      'The account’s daily cap per recipient domain (a free-mail address counts on its own) is reached: waits, in line, for the next day',
    ),
  z
    .object({ cause: z.literal('new_leads_cap'), cap: z.number().int(), until: iso })
    .describe('Its sequence has started its new leads for the day: the first email waits, in line, for the next day'),
  z.object({ cause: z.literal('provider_quota'), until: iso }).describe('The email provider’s quota is reached'),
  z.object({ cause: z.literal('out_of_office'), until: iso }).describe('Paused until the lead’s return from an out-of-office'),
  z
    .object({
      cause: z.literal('paused'),
      by: z.enum(PAUSED_BY),
      reason: z.string().nullable(),
    })
    .describe(
      'Paused: by a user (or an operator), the sequence’s pause, a reply, a colleague’s reply, a portal event, or a retired sender',
    ),
  z
    .object({ cause: z.literal('bounce_protection'), reason: z.string() })
    .describe('Paused by the breaker: recent emails of its sequence (or account) hard-bounced over the threshold'),
  z
    .object({ cause: z.literal('complaint_protection'), reason: z.string() })
    .describe('Paused by the breaker: recent emails of its sequence (or account) drew spam complaints over the threshold'),
]);
const enrolmentStatus = z.enum(ENROLMENT_STATUSES);

const senderId = z
  .uuid()
  .describe('The live sender it sends as, for the whole sequence; without it, the sequence’s default sender, else the account’s');
export const enrolOneSchema = z.object({ leadId: z.uuid(), senderId: senderId.optional() });
export const enrolManySchema = z.object({
  leadIds: z.array(z.uuid()).min(1).max(MAX_BULK, `at most ${MAX_BULK} leads per request`),
  senderId: senderId.optional().describe('One live sender for every lead (not with senderIds)'),
  senderIds: z
    .array(z.uuid())
    .min(1)
    .max(50)
    .optional()
    .describe(
      'Round-robin (not with senderId): each lead gets the next of these in turn; a lead whose latest enrolment was with one of them keeps that one',
    ),
  leadSenders: z
    .record(z.uuid(), z.uuid())
    .refine((map) => Object.keys(map).length <= MAX_BULK, `at most ${MAX_BULK} leads`)
    .meta({ override: { maxProperties: MAX_BULK } })
    .optional()
    .describe('Per lead (lead id → sender id), over senderId and senderIds; every key one of leadIds (422 otherwise)'),
});
/** `Idempotency-Key` of a bulk enrolment: a retried request answers the first one's result. */
export const idempotencyKeyHeader = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/)
    .optional()
    .describe('1-200 visible ASCII characters'),
});
export const enrolmentListQuery = z.object({
  status: enrolmentStatus.optional(),
  senderId: z
    .uuid()
    .optional()
    .describe('Only the enrolments that send as this sender (what one rep has in this sequence); the counts stay the whole sequence’s'),
  waitingFor: z
    .enum(WAITING_CAUSES)
    .optional()
    .describe('Only the live enrolments whose next email waits for this (see `waitingFor`); the counts stay the whole sequence’s'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: cursorParam.optional(),
});

export const enrolResultSchema = z.discriminatedUnion('status', [
  z.object({ leadId: z.string(), status: z.literal('enrolled'), enrolmentId: z.uuid() }),
  z.object({
    leadId: z.string(),
    status: z.literal('skipped'),
    reason: z.enum(Object.keys(REFUSAL_MESSAGES) as [EnrolRefusal, ...EnrolRefusal[]]),
    message: z.string(),
    missingFields: z.array(z.string()).optional(),
  }),
]);

export const bulkResultSchema = z.object({ enrolled: z.number().int(), skipped: z.number().int(), results: z.array(enrolResultSchema) });

export const enrolmentSchema = z.object({
  id: z.uuid(),
  sequenceId: z.uuid(),
  leadId: z.uuid(),
  status: enrolmentStatus,
  lastStepId: z.uuid().nullable(),
  lastSentAt: iso.nullable(),
  nextStepId: z.uuid().nullable(),
  nextDueAt: iso.nullable(),
  repliedAt: iso.nullable(),
  pausedUntil: iso
    .nullable()
    .describe('Paused until then, waiting for the lead’s return from an out-of-office; it resumes by itself. Null for any other pause'),
  endedReason: z.string().nullable(),
  enrolledAt: iso,
  endedAt: iso.nullable(),
  holdout: z
    .boolean()
    .nullable()
    .describe('In its sequence’s experiment holdout (step 1 only, no follow-up); null until its first plan decided it'),
  senderId: z.uuid().nullable().describe('Who its emails come from: bound when the lead was enrolled; null: the account had no sender'),
  waitingFor: waitingForSchema
    .nullable()
    .describe(
      'Why its next email has not gone yet, and until when (a live enrolment); null for an ended one, or while its email is on its way',
    ),
});

/** Enrolments per status (every status a key, zero included). */
export const enrolmentCountsSchema = z.record(z.string(), z.number().int());

export const enrolmentLeadSummarySchema = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  firstName: z.string(),
  lastName: z.string(),
});
export const enrolmentPageSchema = page(enrolmentSchema.extend({ lead: enrolmentLeadSummarySchema })).extend({
  counts: enrolmentCountsSchema
    .optional()
    .describe(
      'Enrolments per status in the whole sequence (every status filter aside); on the first page only, a request without a cursor',
    ),
});

export const enrolmentMessageSchema = z.object({
  id: z.uuid(),
  stepId: z.uuid().nullable(),
  subject: z.string(),
  status: z.enum(MESSAGE_STATUSES),
  sentAt: iso.nullable(),
  deliveredAt: iso.nullable(),
  firstOpenedAt: iso.nullable(),
  firstClickedAt: iso.nullable(),
});
/**
 * A timeline entry: its type (one of ENROLMENT_EVENT_TYPES), when, and the details that type is
 * written with (activities/, api/services/), each typed. Entries are answered as stored.
 */
const entry = <T extends EnrolmentEventType, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), at: iso, ...shape });
const emailEvent = { messageId: z.uuid() };
const bounceDetail = z
  .object({ type: z.string().optional(), subType: z.string().optional(), message: z.string().optional() })
  .catchall(z.unknown())
  .describe('The provider’s bounce object');
const senderRelation = z.enum(['lead', 'lead_domain', 'other']);
export const inboundClassSchema = z.enum(INBOUND_CLASSES);
export const inboundActionSchema = z.enum(INBOUND_ACTIONS);
export const evidenceSchema = z
  .object({ kind: z.enum(['header', 'subject', 'body', 'sender']), matched: z.string() })
  .describe('What decided the class: the header (name: value), the phrase in the subject or body, or who wrote');
/** How the service read an inbound email, and what it did: on every entry an inbound email writes. */
const classified = { class: inboundClassSchema, evidence: evidenceSchema, action: inboundActionSchema };
/** Entries written before inbound emails were classified carry no class. */
const classifiedBefore = {
  class: inboundClassSchema.optional(),
  evidence: evidenceSchema.optional(),
  action: inboundActionSchema.optional(),
};
export const timelineEventSchema = z.discriminatedUnion('type', [
  entry('enrolled', { to: z.literal('active') }),
  entry('status_changed', {
    from: enrolmentStatus,
    to: enrolmentStatus,
    reason: z.string().optional(),
    until: iso.optional().describe('A wait for the lead’s return from an out-of-office: until when'),
  }),
  entry('email_sent', {
    stepId: z.uuid(),
    messageId: z.uuid(),
    subject: z.string(),
    variantId: z.uuid().optional().describe('The step’s variant it went as, when the step is an experiment'),
    variant: z.string().optional().describe('That variant’s label (A–E)'),
  }),
  entry('email_delivered', emailEvent),
  entry('email_delayed', emailEvent),
  entry('email_clicked', { ...emailEvent, link: z.string().optional() }),
  entry('email_bounced', { ...emailEvent, bounce: bounceDetail }),
  entry('email_soft_bounced', { ...emailEvent, bounce: bounceDetail }),
  entry('email_suppressed', emailEvent),
  entry('email_complained', emailEvent),
  entry('email_failed', { ...emailEvent, reason: z.string().optional() }),
  entry('reply', {
    source: z
      .enum(['api', 'email', 'correction'])
      .optional()
      .describe('Marked replied through the API, an email, or a user’s correction of how an email was read'),
    onReply: z.enum(ON_REPLY_ACTIONS).optional(),
    inboundId: z.uuid().optional(),
    from: z.string().optional().describe('Who wrote, when not the lead’s own address'),
    sender: senderRelation.optional(),
    colleaguesNotTold: z
      .string()
      .optional()
      .describe('Why the lead’s colleagues were not told of this reply (the receiving server did not vouch for its From)'),
    ...classifiedBefore,
  }),
  entry('auto_reply', { inboundId: z.uuid(), subject: z.string(), from: z.string(), sender: senderRelation, ...classifiedBefore }),
  entry('reply_from_other_address', { inboundId: z.uuid(), from: z.string(), subject: z.string(), ...classifiedBefore }),
  entry('out_of_office', {
    inboundId: z.uuid(),
    subject: z.string(),
    from: z.string(),
    sender: senderRelation,
    returnDate: z.iso.date().optional().describe('The return day the reply named, in the lead’s zone'),
    until: iso
      .optional()
      .describe('Until when the enrolment waits (the next business day after the return day, or the sequence’s outOfOfficeDays)'),
    ...classified,
  }),
  entry('unsubscribe_request', { inboundId: z.uuid(), subject: z.string(), from: z.string(), ...classified }),
  entry('bounce_notice', { inboundId: z.uuid(), subject: z.string(), from: z.string(), ...classified }),
  entry('classification_corrected', {
    inboundId: z.uuid(),
    previousClass: inboundClassSchema,
    class: inboundClassSchema,
    action: inboundActionSchema,
    effect: z.string().describe('What the correction did, in words'),
    until: iso.optional(),
  }),
  entry('lead_event', {
    leadEventId: z.uuid(),
    name: z.string().describe('The portal’s event about the lead (POST /v1/leads/{id}/events)'),
    eventKey: z.string(),
    action: z
      .enum(LEAD_EVENT_ACTIONS)
      .describe('What it did to this enrolment by the sequence’s leadEventRules: stop, pause, or none (recorded only)'),
  }),
  entry('sender_changed', {
    fromSenderId: z.uuid(),
    toSenderId: z.uuid(),
    reason: z.string().describe('Why (its sender was retired, with another to take over)'),
  }),
  entry('unsubscribe', { source: z.string(), inboundId: z.uuid().optional() }),
  entry('bounce', { reason: z.string() }),
]);

export const enrolmentDetailSchema = enrolmentSchema.extend({
  replyTo: z
    .string()
    .describe('Where the lead’s replies to this enrolment go: the reply address its emails carry (support staff look it up here)'),
  lead: leadSchema,
  messages: z.array(enrolmentMessageSchema),
  variants: z
    .array(z.object({ stepId: z.uuid(), variantId: z.uuid(), label: z.string() }))
    .describe('The variant it gets of each experiment step planned for it (or sent), by step position; moved while that email is unsent'),
  timeline: z.array(timelineEventSchema),
});
