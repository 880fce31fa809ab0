import { eq } from 'drizzle-orm';
import { Resend } from 'resend';
import type { z } from 'zod';
import type { Config } from '../../config.js';
import type { Account } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { accounts } from '../../db/schema.js';
import { ApiError } from '../errors.js';
import type { domainRecordSchema } from '../schemas/domains.js';

// Custom sending domains, through Resend's domains API: add one, show the DNS records to set,
// check verification. Until it is verified, emails go from the platform address.

interface Deps {
  db: Db;
  config: Pick<Config, 'RESEND_API_KEY' | 'RESEND_BASE_URL'>;
}

export interface DomainState {
  domain: string | null;
  status: string;
  verified: boolean;
  records: z.input<typeof domainRecordSchema>[];
}

function provider(config: Deps['config']) {
  if (!config.RESEND_API_KEY) {
    throw new ApiError(503, 'email_provider_not_configured', 'Sending domains need RESEND_API_KEY on the server');
  }
  return new Resend(config.RESEND_API_KEY, config.RESEND_BASE_URL ? { baseUrl: config.RESEND_BASE_URL } : undefined);
}

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

const noDomain = () => new ApiError(404, 'not_found', 'No sending domain; POST /v1/account/domain first');

/** The provider's view of the domain, and whether it is verified (written to the account). */
async function refresh({ db, config }: Deps, accountId: string, domainId: string): Promise<DomainState> {
  const { data, error } = await provider(config).domains.get(domainId);
  if (!data) throw failed(error);
  const verified = data.status === 'verified';
  const [account] = await db
    .update(accounts)
    .set({ sendingDomainVerifiedAt: verified ? new Date() : null, updatedAt: new Date() })
    .where(eq(accounts.id, accountId))
    .returning();
  return { domain: account!.sendingDomain, status: data.status, verified, records: records(data.records as never) };
}

export async function addSendingDomain({ db, config }: Deps, account: Account, domain: string): Promise<DomainState> {
  const { data, error } = await provider(config).domains.create({ name: domain });
  if (!data) throw failed(error);
  await db
    .update(accounts)
    .set({ sendingDomain: domain, sendingDomainId: data.id, sendingDomainVerifiedAt: null, updatedAt: new Date() })
    .where(eq(accounts.id, account.id));
  return { domain, status: data.status, verified: false, records: records(data.records as never) };
}

export async function getSendingDomain(deps: Deps, account: Account): Promise<DomainState> {
  if (!account.sendingDomainId) throw noDomain();
  return refresh(deps, account.id, account.sendingDomainId);
}

export async function verifySendingDomain(deps: Deps, account: Account): Promise<DomainState> {
  if (!account.sendingDomainId) throw noDomain();
  const { error } = await provider(deps.config).domains.verify(account.sendingDomainId);
  if (error) throw failed(error);
  return refresh(deps, account.id, account.sendingDomainId);
}
