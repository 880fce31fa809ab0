import { z } from 'zod';
import { delaySchema, sendWindowSchema } from './sequences.js';

export const stepImpactSchema = z
  .object({
    delay: delaySchema.optional().describe('The step’s delay as it would be'),
    position: z.number().int().min(1).max(1000).optional().describe('The step’s place as it would be, from 1 (past the end: last)'),
    sendWindow: sendWindowSchema.nullable().optional().describe('The sequence’s send window as it would be (null: none)'),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to judge: give delay, position or sendWindow' })
  .meta({ override: { minProperties: 1 } });

const next = z.object({ stepId: z.uuid(), dueAt: z.iso.datetime() }).nullable();

export const stepImpactAnswerSchema = z.object({
  enrolments: z.number().int().describe('Active enrolments judged'),
  moved: z.number().int().describe('Whose next email would be another step, or go at another time'),
  earlier: z.number().int(),
  later: z.number().int(),
  unchanged: z.number().int(),
  nextStepChanged: z.number().int().describe('Whose next email would be another step'),
  nothingNext: z.number().int().describe('Whose planned next email would not go at all'),
  paused: z.number().int().describe('Paused enrolments: not judged; they plan again, by the rules then in force, when resumed'),
  examples: z.array(z.object({ enrolmentId: z.uuid(), from: next, to: next })).max(5),
});
