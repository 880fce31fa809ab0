import express, { Router, type Response } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { senderConfirmationSchema } from '../schemas/account.js';
import { unsubscribePage } from '../pages/unsubscribe-page.js';
import { confirmSenderEmail, requestSenderConfirmation, resolveConfirmationLink } from '../services/sender-confirmation.js';

/**
 * `POST /v1/account/sender-email/confirmation` sends a signed link to the account's sender
 * address. Until it is opened and confirmed, nothing but that link goes there: no test copies,
 * no forwarded replies (so a sender address cannot be used to mail a stranger).
 */
export function senderConfirmationRequestRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, config: deps.config, mailer: deps.mailer };
  const router = Router();
  router.post('/account/sender-email/confirmation', async (_req, res) => {
    const confirmation = await requestSenderConfirmation(services, res.locals.account);
    answer(res, confirmation.confirmed ? 200 : 202, senderConfirmationSchema, confirmation);
  });
  return router;
}

/**
 * `GET /confirm-sender/:token` shows a page with a button; the button's POST confirms. A GET
 * alone never confirms: mail scanners open links by themselves, and the mailbox's owner must
 * choose to let us use it.
 */
export function senderConfirmationLinkRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, config: deps.config };
  const router = Router();
  const page = (res: Response, status: number, title: string, message: string, confirmAction?: string) => {
    res
      .status(status)
      .set('content-type', 'text/html; charset=utf-8')
      .set('cache-control', 'no-store')
      .send(unsubscribePage({ title, message, ...(confirmAction ? { confirmAction, confirmLabel: 'Confirm this address' } : {}) }));
  };

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
    const { account, check } = await resolveConfirmationLink(services, req.params.token);
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
    const { account, check } = await resolveConfirmationLink(services, req.params.token);
    if (check !== 'valid') return refused(res, check);
    // Only while the address is still the one the link was signed for.
    await confirmSenderEmail(services, account!);
    page(res, 200, 'Address confirmed', `${account!.senderEmail} is confirmed.`);
  });
  return router;
}
