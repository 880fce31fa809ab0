import { z } from 'zod';

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
