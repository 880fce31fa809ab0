import { z } from 'zod';

export const livenessSchema = z.object({ status: z.literal('ok') });
export const readinessSchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  failing: z.array(z.string()).optional(),
  checks: z.record(z.string(), z.object({ status: z.enum(['up', 'down']), error: z.string().optional() })),
});
