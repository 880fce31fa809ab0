import { z } from 'zod';
import { WAITING_CAUSES } from '../../domain/waiting-for.js';

export const forecastQuery = z.object({
  days: z.coerce.number().int().min(1).max(31).default(14).describe('How many days ahead, today first (default 14)'),
});

const stepCount = z.object({
  stepId: z.uuid(),
  number: z.number().int().describe('Its place in the sequence, from 1'),
  emails: z.number().int(),
});

export const forecastSchema = z.object({
  sequenceId: z.uuid(),
  zone: z.string().describe('The account’s time zone: the days are its calendar days'),
  generatedAt: z.iso.datetime(),
  liveEnrolments: z.number().int(),
  days: z.array(z.object({ date: z.iso.date(), emails: z.number().int(), steps: z.array(stepCount) })),
  totals: z.object({ emails: z.number().int(), steps: z.array(stepCount) }),
  heldBack: z
    .partialRecord(z.enum(WAITING_CAUSES.filter((c) => c !== 'delay') as [string, ...string[]]), z.number().int())
    .describe(
      'Emails of these days whose time a cause moved (a send window, a holiday, a cap), each counted once per cause; and paused enrolments, by what paused them',
    ),
  assumptions: z.string().describe('What the figures take for granted, in words'),
});
