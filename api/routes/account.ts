import { Router } from 'express';
import type { z } from 'zod';
import type { Account, SenderRow } from '../../db/accounts.js';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { accountPatchSchema, accountSchema, portalWebhookSecretSchema } from '../schemas/account.js';
import { accountView, rotatePortalWebhookSecret, updateAccount } from '../services/account.js';
import { parse } from '../validate.js';
import { settingsOf } from '../services/deliverability.js';
import { startAccountBroadcast } from '../../temporal/client.js';

function toAccountDto({ account: a, sender }: { account: Account; sender: SenderRow | null }): z.input<typeof accountSchema> {
  return {
    id: a.id,
    name: a.name,
    timezone: a.timezone,
    country: a.country,
    closures: a.closures,
    deliverability: settingsOf(a),
    recipientDomainDailyCap: a.recipientDomainDailyCap,
    allowParallelEnrolment: a.allowParallelEnrolment,
    plan: a.plan,
    limits: a.limits,
    defaultSenderId: sender?.id ?? null,
    senderName: sender?.name ?? '',
    senderEmail: sender?.email ?? null,
    signature: sender?.signature ?? '',
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
  router.get('/account', async (_req, res) => {
    answer(res, 200, accountSchema, toAccountDto(await accountView(services.db, res.locals.account)));
  });
  router.patch('/account', async (req, res) => {
    const patch = parse(accountPatchSchema, req.body);
    const { account, newSecret, replan } = await updateAccount(services, res.locals.account, patch);
    if (replan) {
      await startAccountBroadcast(deps, {
        accountOf: { accountId: account.id },
        signal: 'reschedule',
        reason: 'the account’s time zone, holiday country, closures or recipient-domain cap changed',
      });
    }
    // The portal webhook's signing secret, when this change issued it: shown in this answer only.
    const view = toAccountDto(await accountView(services.db, account));
    answer(res, 200, accountSchema, { ...view, ...(newSecret ? { portalWebhookSecret: newSecret } : {}) });
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
    answer(res, 200, portalWebhookSecretSchema, {
      portalWebhookSecret,
      previousSecretExpiresAt: previousSecretExpiresAt?.toISOString() ?? null,
    });
  });
  return router;
}
