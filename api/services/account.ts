import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { lookupAll, webhookDestinationPolicy } from '../../domain/webhook-destination.js';
import type { Config } from '../../config.js';
import type { Account, SenderRow } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { accounts, enrolments, senders } from '../../db/schema.js';
import { isLiveEnrolment } from '../../db/enrolment-queries.js';
import { checkWebhookDestination } from '../../domain/webhook-destination.js';
import { ApiError } from '../errors.js';
import type { accountPatchSchema } from '../schemas/account.js';
import { settingsOf } from './deliverability.js';
import { defaultSenderOf, emailTaken, isUniqueViolation, liveSender } from './senders.js';

// The account's own settings: sender, branding, limits, and the portal webhook (its URL, checked
// against our own network, and the signing secret it is issued and rotated).

interface Deps {
  db: Db;
  config: Pick<Config, 'NODE_ENV' | 'PORTAL_WEBHOOK_ALLOW_PRIVATE'>;
}

const newPortalWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
/** After a rotation the previous secret keeps signing this long, so the portal can switch over. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3600 * 1000;

/**
 * Changes the account's settings. Returns the updated row, and the portal webhook's signing
 * secret when this change issued it (it is shown in that answer only).
 */
export async function updateAccount(
  { db, config }: Deps,
  account: Account,
  patch: z.infer<typeof accountPatchSchema>,
): Promise<{ account: Account; newSecret?: string; replan: boolean }> {
  if (patch.portalWebhookUrl) {
    // Our server makes these requests: the URL must not lead into our own network (SSRF).
    const verdict = await checkWebhookDestination(patch.portalWebhookUrl, webhookDestinationPolicy(config), lookupAll);
    if (!verdict.ok) {
      throw new ApiError(
        422,
        verdict.unresolvable ? 'webhook_url_unresolvable' : 'webhook_url_not_allowed',
        `portalWebhookUrl ${verdict.reason}`,
        'portalWebhookUrl',
      );
    }
  }
  const { senderName, senderEmail, signature, deliverability, ...rest } = patch;
  const settings = { ...rest, ...(deliverability ? { deliverability: { ...settingsOf(account), ...deliverability } } : {}) };
  // A portal webhook gets its signing secret when first set; it is shown in this answer only.
  const newSecret = patch.portalWebhookUrl && !account.portalWebhookSecret ? newPortalWebhookSecret() : undefined;
  return db.transaction(async (tx) => {
    // The address every running sequence's emails carry cannot be taken away under them.
    if (settings.postalAddress !== undefined && !settings.postalAddress && account.postalAddress) {
      const [live] = await tx
        .select({ id: enrolments.id })
        .from(enrolments)
        .where(and(eq(enrolments.accountId, account.id), isLiveEnrolment()))
        .limit(1);
      if (live) {
        throw new ApiError(
          409,
          'postal_address_in_use',
          'the account has live enrolments, whose emails must carry a postal address (CAN-SPAM): change it rather than clear it',
          'postalAddress',
        );
      }
    }
    if (settings.defaultSenderId) await liveSender(tx, account, settings.defaultSenderId, 'defaultSenderId');
    const [updated] = await tx
      .update(accounts)
      .set({ ...settings, ...(newSecret ? { portalWebhookSecret: newSecret } : {}), updatedAt: new Date() })
      .where(eq(accounts.id, account.id))
      .returning();
    let result = updated!;
    // The account's sender fields from before there were senders: they change its default sender
    // (made now if it has none), under the senders' own rules.
    if (senderName !== undefined || senderEmail !== undefined || signature !== undefined) {
      const current = await defaultSenderOf(tx, result);
      const email = senderEmail === undefined ? undefined : (senderEmail?.toLowerCase() ?? null);
      // A new sender address has to be proven again before mail goes to it.
      const emailChanged = email !== undefined && email !== (current?.email?.toLowerCase() ?? null);
      const values = {
        ...(senderName !== undefined ? { name: senderName } : {}),
        ...(email !== undefined ? { email } : {}),
        ...(signature !== undefined ? { signature } : {}),
        ...(emailChanged ? { emailConfirmedAt: null } : {}),
        updatedAt: new Date(),
      };
      try {
        if (current && !current.retiredAt) await tx.update(senders).set(values).where(eq(senders.id, current.id));
        else {
          const [made] = await tx
            .insert(senders)
            .values({ ...values, accountId: account.id })
            .returning();
          [result] = (await tx.update(accounts).set({ defaultSenderId: made!.id }).where(eq(accounts.id, account.id)).returning()) as [
            Account,
          ];
        }
      } catch (error) {
        if (isUniqueViolation(error)) throw emailTaken(String(email), 'senderEmail');
        throw error;
      }
    }
    // A changed recipient-domain cap releases its queue: the emails waiting for it plan again from
    // their own due times, and the send judges them by the new cap.
    if (result.recipientDomainDailyCap !== account.recipientDomainDailyCap) {
      await tx
        .update(enrolments)
        .set({ waitingFor: null })
        .where(
          and(
            eq(enrolments.accountId, account.id),
            eq(enrolments.status, 'active'),
            sql`${enrolments.waitingFor}->>'cause' = 'domain_cap'`,
          ),
        );
    }
    // What every schedule of the account reads (its day, its holidays, its closures, a cap): waiting enrolments plan again.
    const replan =
      result.timezone !== account.timezone ||
      result.country !== account.country ||
      result.recipientDomainDailyCap !== account.recipientDomainDailyCap ||
      JSON.stringify(result.closures) !== JSON.stringify(account.closures);
    return { account: result, ...(newSecret ? { newSecret } : {}), replan };
  });
}

/** The account as the API answers it: its settings, and its default sender's name, address and signature. */
export async function accountView(db: Db, account: Account): Promise<{ account: Account; sender: SenderRow | null }> {
  return { account, sender: await defaultSenderOf(db, account) };
}

/**
 * A new signing secret, shown in this answer only. The one it replaces keeps signing (beside the
 * new one) for 24 hours, so the portal can deploy the new secret without losing a webhook.
 */
export async function rotatePortalWebhookSecret(
  { db }: Pick<Deps, 'db'>,
  account: Account,
): Promise<{ portalWebhookSecret: string; previousSecretExpiresAt: Date | null }> {
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
    .where(eq(accounts.id, account.id))
    .returning({ previousSecretExpiresAt: accounts.portalWebhookPreviousSecretExpiresAt });
  return { portalWebhookSecret: secret, previousSecretExpiresAt: rotated?.previousSecretExpiresAt ?? null };
}
