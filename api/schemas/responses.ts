import { z } from 'zod';
import { ENROLMENT_STATUSES, ON_REPLY_ACTIONS, type EnrolmentEventType } from '../../db/schema.js';

/**
 * Shapes of answers that are built in the routes rather than by a DTO of their own. The routes
 * type their answers with these (`satisfies`), so the OpenAPI document and what the API really
 * sends cannot drift apart; test/api-fuzz.test.ts checks every answer against them.
 */
const iso = z.iso.datetime();
const enrolmentStatus = z.enum(ENROLMENT_STATUSES);

export const readinessSchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  failing: z.array(z.string()).optional(),
  checks: z.record(z.string(), z.object({ status: z.enum(['up', 'down']), error: z.string().optional() })),
});

export const webhookAnswerSchema = z.object({
  received: z.literal(true),
  duplicate: z.literal(true).optional(),
  outcome: z.string().optional(),
});

export const domainRecordSchema = z.object({
  record: z.string(),
  name: z.string(),
  type: z.string(),
  value: z.string(),
  ttl: z.string(),
  status: z.string(),
  priority: z.number().optional(),
});
export const domainStatusSchema = z.object({
  domain: z.string().nullable(),
  status: z.string(),
  verified: z.boolean(),
  records: z.array(domainRecordSchema),
});

const counts = {
  sent: z.number().int(),
  delivered: z.number().int(),
  opened: z.number().int(),
  clicked: z.number().int(),
  replied: z.number().int(),
  bounced: z.number().int(),
  unsubscribed: z.number().int(),
};
const rates = z.object({
  delivered: z.number(),
  opened: z.number(),
  clicked: z.number(),
  replied: z.number(),
  bounced: z.number(),
  unsubscribed: z.number(),
});
export const statsSchema = z.object({
  sequence: z.object({ enrolled: z.number().int(), ...counts, rates: rates.extend({ repliedPerEnrolment: z.number() }) }),
  steps: z.array(z.object({ stepId: z.uuid(), position: z.number().int(), subject: z.string(), deleted: z.boolean(), ...counts, rates })),
});

export const enrolmentMessageSchema = z.object({
  id: z.uuid(),
  stepId: z.uuid().nullable(),
  subject: z.string(),
  status: z.string(),
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
export const timelineEventSchema = z.discriminatedUnion('type', [
  entry('enrolled', { to: z.literal('active') }),
  entry('status_changed', { from: enrolmentStatus, to: enrolmentStatus, reason: z.string().optional() }),
  entry('email_sent', { stepId: z.uuid(), messageId: z.uuid(), subject: z.string() }),
  entry('email_delivered', emailEvent),
  entry('email_delayed', emailEvent),
  entry('email_clicked', { ...emailEvent, link: z.string().optional() }),
  entry('email_bounced', { ...emailEvent, bounce: bounceDetail }),
  entry('email_soft_bounced', { ...emailEvent, bounce: bounceDetail }),
  entry('email_suppressed', emailEvent),
  entry('email_complained', emailEvent),
  entry('email_failed', { ...emailEvent, reason: z.string().optional() }),
  entry('reply', {
    source: z.enum(['api', 'email']).optional().describe('Marked replied through the API, or an email'),
    onReply: z.enum(ON_REPLY_ACTIONS).optional(),
    inboundId: z.uuid().optional(),
    from: z.string().optional().describe('Who wrote, when not the lead’s own address'),
    sender: senderRelation.optional(),
  }),
  entry('auto_reply', { inboundId: z.uuid(), subject: z.string(), from: z.string(), sender: senderRelation }),
  entry('reply_from_other_address', { inboundId: z.uuid(), from: z.string(), subject: z.string() }),
  entry('unsubscribe', { source: z.string() }),
  entry('bounce', { reason: z.string() }),
]);

export const enrolmentLeadSummarySchema = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  firstName: z.string(),
  lastName: z.string(),
});

export const importResultSchema = z.discriminatedUnion('status', [
  z.object({ index: z.number().int(), status: z.enum(['created', 'updated']), id: z.uuid() }),
  z.object({ index: z.number().int(), status: z.literal('invalid'), field: z.string().optional(), message: z.string() }),
]);
export const importAnswerSchema = z.object({
  created: z.number().int(),
  updated: z.number().int(),
  invalid: z.number().int(),
  results: z.array(importResultSchema),
});

const oneOffStatus = z.enum(['queued', 'sent', 'suppressed', 'failed']);
export const oneOffAcceptedSchema = z.object({ id: z.uuid(), leadId: z.uuid(), status: oneOffStatus, subject: z.string() });
export const oneOffSchema = oneOffAcceptedSchema.extend({ reason: z.string().nullable(), createdAt: iso });

export const outboxItemSchema = z.object({
  id: z.uuid(),
  enrolmentId: z.uuid().nullable(),
  stepId: z.uuid().nullable(),
  leadId: z.uuid(),
  from: z.string(),
  to: z.string(),
  replyTo: z.string().nullable(),
  subject: z.string(),
  html: z.string(),
  text: z.string(),
  headers: z.record(z.string(), z.string()),
  status: z.string(),
  failureReason: z.string().nullable(),
  sentAt: iso.nullable(),
  createdAt: iso,
});

export const notificationSchema = z.object({
  id: z.uuid(),
  type: z.string(),
  title: z.string(),
  body: z.string(),
  enrolmentId: z.uuid().nullable(),
  leadId: z.uuid().nullable(),
  read: z.boolean(),
  createdAt: iso,
});
