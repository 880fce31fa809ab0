import { z } from 'zod';

/** `/u/{token}`: the link in every email's footer and List-Unsubscribe header. */
export const unsubscribeTokenParams = z.object({
  token: z
    .string()
    .regex(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{32}$/)
    .describe('<message id>.<signature> from the email'),
});
/** RFC 8058 one-click: mail clients POST this form; the page's button posts it empty. */
export const oneClickForm = z.object({ 'List-Unsubscribe': z.literal('One-Click').optional() });
