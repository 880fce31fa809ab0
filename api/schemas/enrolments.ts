import { z } from 'zod';
import { ENROLMENT_STATUSES } from '../../db/schema.js';
import { REFUSAL_MESSAGES, type EnrolRefusal } from '../../domain/enrolment-rules.js';
import { cursorParam } from './common.js';
import { MAX_BULK } from './leads.js';

export const enrolOneSchema = z.object({ leadId: z.uuid() });
export const enrolManySchema = z.object({
  leadIds: z.array(z.uuid()).min(1).max(MAX_BULK, `at most ${MAX_BULK} leads per request`),
});
export const enrolmentListQuery = z.object({
  status: z.enum(ENROLMENT_STATUSES).optional(),
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

export const enrolmentSchema = z.object({
  id: z.uuid(),
  sequenceId: z.uuid(),
  leadId: z.uuid(),
  status: z.enum(ENROLMENT_STATUSES),
  lastStepId: z.uuid().nullable(),
  lastSentAt: z.iso.datetime().nullable(),
  nextStepId: z.uuid().nullable(),
  nextDueAt: z.iso.datetime().nullable(),
  repliedAt: z.iso.datetime().nullable(),
  endedReason: z.string().nullable(),
  enrolledAt: z.iso.datetime(),
  endedAt: z.iso.datetime().nullable(),
});
