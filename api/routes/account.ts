import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { lookupAll, webhookDestinationPolicy } from '../../activities/portal-webhook.js';
import { accounts } from '../../db/schema.js';
import { checkWebhookDestination } from '../../domain/webhook-destination.js';
import type { AppDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { nonBlank, timezone } from '../schemas/common.js';
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

const newPortalWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
/** After a rotation the previous secret keeps signing this long, so the portal can switch over. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3600 * 1000;

export function accountRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  const destinationPolicy = webhookDestinationPolicy(deps.config);
  router.get('/account', (_req, res) => {
    res.json(toAccountDto(res.locals.account));
  });
  router.patch('/account', async (req, res) => {
    const patch = parse(accountPatchSchema, req.body);
    if (patch.portalWebhookUrl) {
      // Our server makes these requests: the URL must not lead into our own network (SSRF).
      const verdict = await checkWebhookDestination(patch.portalWebhookUrl, destinationPolicy, lookupAll);
      if (!verdict.ok) {
        throw new ApiError(
          422,
          verdict.unresolvable ? 'webhook_url_unresolvable' : 'webhook_url_not_allowed',
          `portalWebhookUrl ${verdict.reason}`,
          'portalWebhookUrl',
        );
      }
    }
    // A new sender address has to be proven again before mail goes to it.
    const senderChanged = patch.senderEmail !== undefined && patch.senderEmail !== res.locals.account.senderEmail;
    // A portal webhook gets its signing secret when first set; it is shown in this answer only.
    const newSecret = patch.portalWebhookUrl && !res.locals.account.portalWebhookSecret ? newPortalWebhookSecret() : undefined;
    const [updated] = await db
      .update(accounts)
      .set({
        ...patch,
        ...(senderChanged ? { senderEmailConfirmedAt: null } : {}),
        ...(newSecret ? { portalWebhookSecret: newSecret } : {}),
        updatedAt: new Date(),
      })
      .where(eq(accounts.id, res.locals.account.id))
      .returning();
    res.json({ ...toAccountDto(updated!), ...(newSecret ? { portalWebhookSecret: newSecret } : {}) });
  });
  // A new signing secret, shown in this answer only. The one it replaces keeps signing (beside the
  // new one) for 24 hours, so the portal can deploy the new secret without losing a webhook.
  router.post('/account/portal-webhook-secret/rotate', async (req, res) => {
    // No body is read; a Content-Type that is not JSON is still a request we do not understand.
    const mediaType = req.get('content-type')?.split(';')[0]!.trim().toLowerCase();
    if (mediaType !== undefined && mediaType !== 'application/json') {
      throw new ApiError(415, 'unsupported_media_type', `This request takes no body; send none, or JSON (got ${req.get('content-type')})`);
    }
    const now = new Date();
    const secret = newPortalWebhookSecret();
    // The row's own current secret becomes the previous one, in one statement: of two rotations
    // at once, the later demotes the secret the earlier just made (one previous secret is kept).
    const [rotated] = await db
      .update(accounts)
      .set({
        portalWebhookSecret: secret,
        portalWebhookPreviousSecret: sql`${accounts.portalWebhookSecret}`,
        portalWebhookPreviousSecretExpiresAt: sql`case when ${accounts.portalWebhookSecret} is null then null else ${new Date(now.getTime() + PREVIOUS_SECRET_GRACE_MS).toISOString()}::timestamptz end`,
        updatedAt: now,
      })
      .where(eq(accounts.id, res.locals.account.id))
      .returning({ previousSecretExpiresAt: accounts.portalWebhookPreviousSecretExpiresAt });
    res.json({ portalWebhookSecret: secret, previousSecretExpiresAt: rotated?.previousSecretExpiresAt?.toISOString() ?? null });
  });
  return router;
}
