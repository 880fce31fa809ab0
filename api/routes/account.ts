import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { accounts } from '../../db/schema.js';
import type { AppDeps } from '../app.js';
import { timezone } from '../schemas/common.js';
import { parse } from '../validate.js';

export const accountPatchSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    timezone,
    allowParallelEnrolment: z.boolean(),
    senderName: z.string().trim().max(200),
    senderEmail: z.email().nullable(),
    signature: z.string().max(5000),
    companyName: z.string().trim().max(200),
    postalAddress: z.string().trim().max(500),
    logoUrl: z.url({ protocol: /^https$/ }).nullable(),
    brandColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #2563eb'),
    portalWebhookUrl: z.url({ protocol: /^https?$/ }).nullable(),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' });

function toAccountDto(a: typeof accounts.$inferSelect) {
  return {
    id: a.id,
    name: a.name,
    timezone: a.timezone,
    allowParallelEnrolment: a.allowParallelEnrolment,
    plan: a.plan,
    limits: a.limits,
    senderName: a.senderName,
    senderEmail: a.senderEmail,
    signature: a.signature,
    companyName: a.companyName,
    postalAddress: a.postalAddress,
    logoUrl: a.logoUrl,
    brandColor: a.brandColor,
    portalWebhookUrl: a.portalWebhookUrl,
    sendingDomain: a.sendingDomain,
    sendingDomainVerified: a.sendingDomainVerifiedAt !== null,
  };
}

export function accountRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  router.get('/account', (_req, res) => {
    res.json(toAccountDto(res.locals.account));
  });
  router.patch('/account', async (req, res) => {
    const patch = parse(accountPatchSchema, req.body);
    // A portal webhook gets its signing secret when first set; it is shown in this answer only.
    const newSecret = patch.portalWebhookUrl && !res.locals.account.portalWebhookSecret ? `whsec_${randomBytes(24).toString('base64')}` : undefined;
    const [updated] = await db
      .update(accounts)
      .set({ ...patch, ...(newSecret ? { portalWebhookSecret: newSecret } : {}), updatedAt: new Date() })
      .where(eq(accounts.id, res.locals.account.id))
      .returning();
    res.json({ ...toAccountDto(updated!), ...(newSecret ? { portalWebhookSecret: newSecret } : {}) });
  });
  return router;
}
