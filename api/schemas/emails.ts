import { z } from 'zod';
import { MESSAGE_STATUSES } from '../../db/schema.js';
import { MAX_BODY_LENGTH } from './sequences.js';
import { page } from './common.js';

const iso = z.iso.datetime();

/** A one-off email to one lead: its template follows the rules of a step's. */
export const oneOffInputSchema = z.object({
  subject: z.string().trim().min(1).max(998),
  body: z.string().min(1).max(MAX_BODY_LENGTH),
});
const oneOffStatus = z.enum(['queued', 'sent', 'suppressed', 'failed']);
export const oneOffAcceptedSchema = z.object({ id: z.uuid(), leadId: z.uuid(), status: oneOffStatus, subject: z.string() });
export const oneOffSchema = oneOffAcceptedSchema.extend({ reason: z.string().nullable(), createdAt: iso });

/** Preview and test send of a step. */
const variantId = z.uuid().optional().describe('One of the step’s variants (an experiment); without, the step’s own subject and body');
const senderId = z
  .uuid()
  .optional()
  .describe('The live sender it is rendered as; without, the sequence’s default sender, else the account’s');
export const previewSchema = z.object({ leadId: z.uuid().optional(), variantId, senderId });
export const renderedSchema = z.object({ from: z.string().optional(), subject: z.string(), html: z.string(), text: z.string() });
export const testSendSchema = z.object({
  to: z.email().optional().describe('Only the sender’s own confirmed address (it is the default)'),
  variantId,
  senderId: senderId.describe('Whose step it is: the copy goes to this sender’s confirmed mailbox, rendered as them'),
});
export const testSendAnswerSchema = z.object({ to: z.string(), providerId: z.string() });

export const outboxItemSchema = z.object({
  id: z.uuid(),
  enrolmentId: z.uuid().nullable(),
  stepId: z.uuid().nullable(),
  variantId: z.uuid().nullable().describe('The step’s variant it went as, when the step is an experiment'),
  senderId: z.uuid().nullable().describe('The sender it went as'),
  leadId: z.uuid(),
  from: z.string(),
  to: z.string(),
  replyTo: z.string().nullable(),
  subject: z.string(),
  html: z.string(),
  text: z.string(),
  headers: z.record(z.string(), z.string()),
  status: z.enum(MESSAGE_STATUSES),
  failureReason: z.string().nullable(),
  sentAt: iso.nullable(),
  createdAt: iso,
});
export const outboxPageSchema = page(outboxItemSchema).extend({ delivery: z.enum(['resend', 'local-outbox']) });
