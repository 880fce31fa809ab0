import { Router } from 'express';
import { eq } from 'drizzle-orm';
import { Resend } from 'resend';
import { z } from 'zod';
import { accounts } from '../../db/schema.js';
import type { AppDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { domainRecordSchema } from '../schemas/responses.js';
import { parse } from '../validate.js';

export const domainSchema = z.object({
  domain: z
    .string()
    .trim()
    .toLowerCase()
    .max(253)
    .regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/, 'must be a domain name such as mail.acme.com'),
});

/**
 * Custom sending domains, through Resend's domains API: add one, show the DNS records to set,
 * check verification. Until it is verified, emails go from the platform address.
 */
export function domainRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  const provider = () => {
    if (!deps.config.RESEND_API_KEY) {
      throw new ApiError(503, 'email_provider_not_configured', 'Sending domains need RESEND_API_KEY on the server');
    }
    return new Resend(deps.config.RESEND_API_KEY, deps.config.RESEND_BASE_URL ? { baseUrl: deps.config.RESEND_BASE_URL } : undefined);
  };
  // Only the documented fields of the provider's DNS records: its answer may grow new ones.
  const text = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  const records = (list: Record<string, unknown>[] | undefined) =>
    (list ?? []).map(
      (r) =>
        ({
          record: text(r.record),
          name: text(r.name),
          type: text(r.type),
          value: text(r.value),
          ttl: text(r.ttl),
          status: text(r.status),
          ...(typeof r.priority === 'number' ? { priority: r.priority } : {}),
        }) satisfies z.input<typeof domainRecordSchema>,
    );
  const failed = (error: { message?: string; statusCode?: number | null } | null) =>
    new ApiError(
      error?.statusCode && error.statusCode < 500 ? 422 : 502,
      'email_provider_error',
      `The email provider said: ${error?.message ?? 'no answer'}`,
    );

  async function refresh(accountId: string, domainId: string) {
    const { data, error } = await provider().domains.get(domainId);
    if (!data) throw failed(error);
    const verified = data.status === 'verified';
    const [account] = await db
      .update(accounts)
      .set({ sendingDomainVerifiedAt: verified ? new Date() : null, updatedAt: new Date() })
      .where(eq(accounts.id, accountId))
      .returning();
    return { domain: account!.sendingDomain, status: data.status, verified, records: records(data.records as never) };
  }

  router.post('/account/domain', async (req, res) => {
    const { domain } = parse(domainSchema, req.body);
    const { data, error } = await provider().domains.create({ name: domain });
    if (!data) throw failed(error);
    await db
      .update(accounts)
      .set({ sendingDomain: domain, sendingDomainId: data.id, sendingDomainVerifiedAt: null, updatedAt: new Date() })
      .where(eq(accounts.id, res.locals.account.id));
    res.status(201).json({ domain, status: data.status, verified: false, records: records(data.records as never) });
  });

  router.get('/account/domain', async (_req, res) => {
    const account = res.locals.account;
    if (!account.sendingDomainId) throw new ApiError(404, 'not_found', 'No sending domain; POST /v1/account/domain first');
    res.json(await refresh(account.id, account.sendingDomainId));
  });

  router.post('/account/domain/verify', async (_req, res) => {
    const account = res.locals.account;
    if (!account.sendingDomainId) throw new ApiError(404, 'not_found', 'No sending domain; POST /v1/account/domain first');
    const { error } = await provider().domains.verify(account.sendingDomainId);
    if (error) throw failed(error);
    res.json(await refresh(account.id, account.sendingDomainId));
  });

  return router;
}
