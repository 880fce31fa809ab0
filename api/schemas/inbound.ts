import { z } from 'zod';
import { REPLY_SENTIMENTS } from '../../db/schema.js';
import { INBOUND_CLASSES } from '../../domain/inbound-policy.js';
import type { InboundClass } from '../../domain/reply-classification.js';
import { evidenceSchema, inboundActionSchema, inboundClassSchema } from './enrolments.js';

/** What comes back from the email world: Resend's webhook events and raw MIME from another provider. */
export const resendEventSchema = z.object({
  type: z.string().min(1),
  created_at: z.string().optional(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export const resendSignatureHeaders = z.object({ 'svix-id': z.string(), 'svix-timestamp': z.string(), 'svix-signature': z.string() });

export const webhookAnswerSchema = z.object({
  received: z.literal(true),
  duplicate: z.literal(true).optional(),
  outcome: z.string().optional(),
});

/** An email that came back to a reply address, as the service read it (and a user corrected it). */
export const inboundEmailSchema = z.object({
  id: z.uuid(),
  enrolmentId: z.uuid().nullable(),
  leadId: z.uuid().nullable(),
  from: z.string(),
  subject: z.string(),
  text: z.string(),
  sender: z.enum(['lead', 'lead_domain', 'other']),
  receivedAt: z.iso.datetime(),
  class: inboundClassSchema,
  evidence: evidenceSchema.nullable(),
  action: inboundActionSchema,
  returnDate: z.iso.date().nullable().describe('An out-of-office’s return day, in the lead’s zone'),
  resumesAt: z.iso.datetime().nullable().describe('Until when the enrolment waits for the lead’s return'),
  correctedFrom: inboundClassSchema.nullable().describe('The class the service gave, when a user corrected it'),
  correctedAt: z.iso.datetime().nullable(),
  sentiment: z
    .enum(REPLY_SENTIMENTS)
    .nullable()
    .describe('How a user judged a reply (POST /v1/inbound-emails/{id}/sentiment); positive replies are counted per experiment variant'),
});

// One shape per class, so the document states the rule: only out_of_office takes a returnDate.
export const classificationCorrectionSchema = z.discriminatedUnion('class', [
  z.object({
    class: z.literal('out_of_office'),
    returnDate: z.iso
      .date()
      .optional()
      .describe(
        'The day the lead is back (the enrolment resumes the next business day); without, the one read from the email or the sequence’s outOfOfficeDays',
      ),
  }),
  z.object({
    class: z
      .enum(INBOUND_CLASSES.filter((c) => c !== 'out_of_office') as [InboundClass, ...InboundClass[]])
      .describe('What the email really was'),
    returnDate: z.never({ error: 'returnDate goes with class out_of_office only' }).optional(),
  }),
]);

/** A user's judgement of a real reply: positive ones are what an experiment counts as positive replies. */
export const sentimentInputSchema = z.object({
  sentiment: z.enum(REPLY_SENTIMENTS).nullable().describe('positive (interested), neutral or negative; null clears it'),
});

export const classificationCorrectedSchema = inboundEmailSchema.extend({
  effect: z.string().describe('What the correction did, in words (what already happened may stay: an enrolment that ended stays ended)'),
});
