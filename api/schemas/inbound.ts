import { z } from 'zod';

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
