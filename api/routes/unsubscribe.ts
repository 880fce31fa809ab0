import express, { Router, type Response } from 'express';
import { eq } from 'drizzle-orm';
import { accounts, leads, messages, senders } from '../../db/schema.js';
import { verifyUnsubscribeToken } from '../../domain/unsubscribe-token.js';
import type { AppDeps } from '../deps.js';
import { unsubscribePage } from '../pages/unsubscribe-page.js';
import { unsubscribeLead } from '../services/suppression.js';

/** Links stop working two years after their email, long after any mail client would use them. */
const LINK_LIFETIME_MS = 730 * 24 * 3600 * 1000;

/**
 * GET /u/:token shows a confirmation page; POST /u/:token unsubscribes (from that page, or the
 * RFC 8058 one-click POST a mail client sends). Account-wide, idempotent.
 */
export function unsubscribeRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  const send = (res: Response, status: number, html: string) => {
    res.status(status).set('content-type', 'text/html; charset=utf-8').set('cache-control', 'no-store').send(html);
  };

  async function resolve(token: string) {
    const messageId = verifyUnsubscribeToken(deps.config.UNSUBSCRIBE_SECRET, token);
    if (!messageId) return { problem: 'invalid' as const };
    const [row] = await db
      .select({ message: messages, lead: leads, account: accounts, senderName: senders.name })
      .from(messages)
      .innerJoin(leads, eq(leads.id, messages.leadId))
      .innerJoin(accounts, eq(accounts.id, messages.accountId))
      // The page names who the email came from when the account gives no company name.
      .leftJoin(senders, eq(senders.id, messages.senderId))
      .where(eq(messages.id, messageId));
    if (!row) return { problem: 'invalid' as const };
    if (Date.now() - row.message.createdAt.getTime() > LINK_LIFETIME_MS) return { problem: 'expired' as const, ...row };
    return { problem: null, ...row };
  }

  function problemPage(res: Response, problem: 'invalid' | 'expired') {
    return problem === 'invalid'
      ? send(
          res,
          400,
          unsubscribePage({
            title: 'This link is not valid',
            message:
              'This unsubscribe link is incomplete or has been changed. Use the link from the email itself, or reply to the email and ask to be removed.',
          }),
        )
      : send(
          res,
          410,
          unsubscribePage({
            title: 'This link has expired',
            message: 'This unsubscribe link is too old. Use the link in a more recent email, or reply to the email and ask to be removed.',
          }),
        );
  }

  const branding = (account: typeof accounts.$inferSelect, senderName: string | null) => ({
    companyName: account.companyName || senderName || account.name,
    logoUrl: account.logoUrl,
    brandColor: account.brandColor,
  });

  router.get('/u/:token', async (req, res) => {
    const found = await resolve(req.params.token);
    if (found.problem) return problemPage(res, found.problem);
    const { lead, account } = found;
    const company = branding(account, found.senderName).companyName;
    if (lead.unsubscribedAt) {
      return send(
        res,
        200,
        unsubscribePage({
          branding: branding(account, found.senderName),
          title: 'You are unsubscribed',
          message: `${lead.email} will not receive further emails from ${company}.`,
        }),
      );
    }
    send(
      res,
      200,
      unsubscribePage({
        branding: branding(account, found.senderName),
        title: `Unsubscribe from ${company}?`,
        message: `${lead.email} will no longer receive emails from ${company}.`,
        confirmAction: `/u/${encodeURIComponent(req.params.token)}`,
      }),
    );
  });

  router.post('/u/:token', express.urlencoded({ extended: false, limit: '10kb' }), async (req, res) => {
    const found = await resolve(req.params.token);
    if (found.problem) return problemPage(res, found.problem);
    const { lead, account } = found;
    await unsubscribeLead(
      { db, temporal: deps.temporal, config: deps.config },
      lead.id,
      req.body?.['List-Unsubscribe'] === 'One-Click' ? 'one-click' : 'link',
    );
    const company = branding(account, found.senderName).companyName;
    send(
      res,
      200,
      unsubscribePage({
        branding: branding(account, found.senderName),
        title: 'You are unsubscribed',
        message: `${lead.email} will not receive further emails from ${company}.`,
      }),
    );
  });

  return router;
}
