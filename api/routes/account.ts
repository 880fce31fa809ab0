import { Router } from 'express';
import { z } from 'zod';
import type { Account } from '../../db/accounts.js';
import type { AppDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { nonBlank, timezone } from '../schemas/common.js';
import { rotatePortalWebhookSecret, updateAccount } from '../services/account.js';
import { parse } from '../validate.js';

export const accountPatchSchema = z
  .object({
    name: z.string().trim().min(1).max(200).meta(nonBlank),
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
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' })
  .meta({ override: { minProperties: 1 } });

function toAccountDto(a: Account) {
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
  const services = { db: deps.database.db, config: deps.config };
  const router = Router();
  router.get('/account', (_req, res) => {
    res.json(toAccountDto(res.locals.account));
  });
  router.patch('/account', async (req, res) => {
    const patch = parse(accountPatchSchema, req.body);
    const { account, newSecret } = await updateAccount(services, res.locals.account, patch);
    // The portal webhook's signing secret, when this change issued it: shown in this answer only.
    res.json({ ...toAccountDto(account), ...(newSecret ? { portalWebhookSecret: newSecret } : {}) });
  });
  // A new signing secret, shown in this answer only. The one it replaces keeps signing (beside the
  // new one) for 24 hours, so the portal can deploy the new secret without losing a webhook.
  router.post('/account/portal-webhook-secret/rotate', async (req, res) => {
    // No body is read; a Content-Type that is not JSON is still a request we do not understand.
    const mediaType = req.get('content-type')?.split(';')[0]!.trim().toLowerCase();
    if (mediaType !== undefined && mediaType !== 'application/json') {
      throw new ApiError(415, 'unsupported_media_type', `This request takes no body; send none, or JSON (got ${req.get('content-type')})`);
    }
    const { portalWebhookSecret, previousSecretExpiresAt } = await rotatePortalWebhookSecret(services, res.locals.account);
    res.json({ portalWebhookSecret, previousSecretExpiresAt: previousSecretExpiresAt?.toISOString() ?? null });
  });
  return router;
}
