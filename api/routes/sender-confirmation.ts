import express, { Router, type Response } from 'express';
import { and, count, eq, gte, isNull } from 'drizzle-orm';
import escapeHtml from 'escape-html';
import { dailyCapReached } from '../../db/daily-sends.js';
import { accounts, testEmails } from '../../db/schema.js';
import { senderConfirmationToken, tokenAccountId, verifySenderConfirmationToken } from '../../domain/sender-confirmation-token.js';
import type { AppDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { unsubscribePage } from '../pages/unsubscribe-page.js';

/**
 * The address may be a stranger's: one confirmation email per account per ten minutes, and a day's
 * at most five per account and three to one address whichever accounts ask. The email names no
 * account and carries nothing the tenant wrote, so it cannot carry a tenant's message either.
 */
const RESEND_INTERVAL_MS = 10 * 60_000;
const CONFIRMATIONS_PER_DAY = { account: 5, address: 3 };

/**
 * `POST /v1/account/sender-email/confirmation` sends a signed link to the account's sender
 * address. Until it is opened and confirmed, nothing but that link goes there: no test copies,
 * no forwarded replies (so a sender address cannot be used to mail a stranger).
 */
export function senderConfirmationRequestRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  router.post('/account/sender-email/confirmation', async (_req, res) => {
    const account = res.locals.account as typeof accounts.$inferSelect;
    if (!account.senderEmail)
      throw new ApiError(422, 'no_sender_email', "Set the account's senderEmail first (PATCH /v1/account)", 'senderEmail');
    if (account.senderEmailConfirmedAt) {
      res.status(200).json({ to: account.senderEmail, confirmed: true });
      return;
    }
    const now = new Date();
    await db.transaction(async (tx) => {
      await tx.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, account.id)).for('update');
      // Kept with the test copies (no step): they count against the daily cap alike.
      const [recent] = await tx
        .select({ id: testEmails.id })
        .from(testEmails)
        .where(
          and(
            eq(testEmails.accountId, account.id),
            isNull(testEmails.stepId),
            gte(testEmails.createdAt, new Date(now.getTime() - RESEND_INTERVAL_MS)),
          ),
        );
      if (recent)
        throw new ApiError(429, 'confirmation_recently_sent', 'A confirmation link was sent less than ten minutes ago; open that one');
      // The address may be anyone's: a few links a day reach it, whichever accounts ask.
      const dayAgo = new Date(now.getTime() - 24 * 3600_000);
      const [byAccount] = await tx
        .select({ n: count() })
        .from(testEmails)
        .where(and(eq(testEmails.accountId, account.id), isNull(testEmails.stepId), gte(testEmails.createdAt, dayAgo)));
      const [byAddress] = await tx
        .select({ n: count() })
        .from(testEmails)
        .where(and(eq(testEmails.toEmail, account.senderEmail!), isNull(testEmails.stepId), gte(testEmails.createdAt, dayAgo)));
      if ((byAccount?.n ?? 0) >= CONFIRMATIONS_PER_DAY.account || (byAddress?.n ?? 0) >= CONFIRMATIONS_PER_DAY.address) {
        throw new ApiError(
          429,
          'confirmation_limit_reached',
          "Enough confirmation links went out today (to this account's addresses, or to this address); try again tomorrow",
        );
      }
      const capped = await dailyCapReached(tx, account, now);
      if (capped)
        throw new ApiError(
          429,
          'daily_cap_reached',
          `The daily cap of ${capped.cap} emails is reached; the confirmation email counts against it`,
        );
      await tx.insert(testEmails).values({ accountId: account.id, stepId: null, toEmail: account.senderEmail! });
    });
    const link = `${deps.config.PUBLIC_BASE_URL}/confirm-sender/${senderConfirmationToken(deps.config.UNSUBSCRIBE_SECRET, account.id, account.senderEmail, now)}`;
    const { providerId } = await deps.mailer.send({
      idempotencyKey: `confirm-sender-${account.id}-${now.getTime()}`,
      from: deps.config.PLATFORM_FROM_EMAIL,
      to: account.senderEmail,
      subject: 'Confirm your sender address',
      text: `Someone asked to send emails as ${account.senderEmail} through our service.\n\nIf that was you, confirm here (the link works for 48 hours):\n${link}\n\nIf it was not, ignore this email: nothing will be sent to or from this address.`,
      html: `<p>Someone asked to send emails as <b>${escapeHtml(account.senderEmail)}</b> through our service.</p><p>If that was you, <a href="${escapeHtml(link)}">confirm this address</a> (the link works for 48 hours).</p><p>If it was not, ignore this email: nothing will be sent to or from this address.</p>`,
    });
    res.status(202).json({ to: account.senderEmail, confirmed: false, providerId });
  });
  return router;
}

/**
 * `GET /confirm-sender/:token` shows a page with a button; the button's POST confirms. A GET
 * alone never confirms: mail scanners open links by themselves, and the mailbox's owner must
 * choose to let us use it.
 */
export function senderConfirmationLinkRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  const page = (res: Response, status: number, title: string, message: string, confirmAction?: string) => {
    res
      .status(status)
      .set('content-type', 'text/html; charset=utf-8')
      .set('cache-control', 'no-store')
      .send(unsubscribePage({ title, message, ...(confirmAction ? { confirmAction, confirmLabel: 'Confirm this address' } : {}) }));
  };

  async function resolve(token: string) {
    const accountId = tokenAccountId(token);
    const [account] = accountId ? await db.select().from(accounts).where(eq(accounts.id, accountId)) : [];
    const check = account?.senderEmail
      ? verifySenderConfirmationToken(deps.config.UNSUBSCRIBE_SECRET, token, account.senderEmail, new Date())
      : 'invalid';
    return { account, check };
  }
  const refused = (res: Response, check: 'invalid' | 'expired') =>
    check === 'invalid'
      ? page(
          res,
          400,
          'This link is not valid',
          'This confirmation link is incomplete, or the sender address has changed since it was sent. Ask for a new one from the portal.',
        )
      : page(res, 410, 'This link has expired', 'Confirmation links work for 48 hours. Ask for a new one from the portal.');

  router.get('/confirm-sender/:token', async (req, res) => {
    const { account, check } = await resolve(req.params.token);
    if (check !== 'valid') return refused(res, check);
    if (account!.senderEmailConfirmedAt) return page(res, 200, 'Address confirmed', `${account!.senderEmail} is confirmed.`);
    page(
      res,
      200,
      'Confirm your sender address?',
      `Emails will come from ${account!.senderEmail}, and replies to them will be forwarded here.`,
      `/confirm-sender/${encodeURIComponent(req.params.token)}`,
    );
  });

  router.post('/confirm-sender/:token', express.urlencoded({ extended: false, limit: '1kb' }), async (req, res) => {
    const { account, check } = await resolve(req.params.token);
    if (check !== 'valid') return refused(res, check);
    // Only while the address is still the one the link was signed for.
    await db
      .update(accounts)
      .set({ senderEmailConfirmedAt: new Date() })
      .where(and(eq(accounts.id, account!.id), eq(accounts.senderEmail, account!.senderEmail!), isNull(accounts.senderEmailConfirmedAt)));
    page(res, 200, 'Address confirmed', `${account!.senderEmail} is confirmed.`);
  });
  return router;
}
