import { z } from 'zod';

export const domainSchema = z.object({
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .max(253)
    .regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/, 'must be a domain name such as mail.acme.com'),
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
