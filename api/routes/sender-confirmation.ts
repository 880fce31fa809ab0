import express, { Router, type Response } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { senderConfirmationSchema } from '../schemas/account.js';
import { unsubscribePage } from '../pages/unsubscribe-page.js';
import { confirmSenderEmail, requestSenderConfirmation, resolveConfirmationLink } from '../services/sender-confirmation.js';
import { defaultSenderOf, findSender } from '../services/senders.js';
import { idParams } from '../schemas/common.js';
import { parse } from '../validate.js';

/**
 * `POST /v1/senders/{id}/confirmation` sends a signed link to the sender's address (and
 * `/v1/account/sender-email/confirmation`, from before there were senders, to the account's
 * default sender's). Until it is opened and confirmed, nothing but that link goes there: no test
 * copies, no forwarded replies (so a sender address cannot be used to mail a stranger).
 */
export function senderConfirmationRequestRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, config: deps.config, mailer: deps.mailer };
  const router = Router();
  router.post('/senders/:id/confirmation', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const sender = await findSender(services.db, res.locals.account, id);
    const confirmation = await requestSenderConfirmation(services, res.locals.account, sender);
    answer(res, confirmation.confirmed ? 200 : 202, senderConfirmationSchema, confirmation);
  });
  router.post('/account/sender-email/confirmation', async (_req, res) => {
    const sender = await defaultSenderOf(services.db, res.locals.account);
    const confirmation = await requestSenderConfirmation(services, res.locals.account, sender);
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
    const { sender, check } = await resolveConfirmationLink(services, req.params.token);
    if (check !== 'valid') return refused(res, check);
    if (sender!.emailConfirmedAt) return page(res, 200, 'Address confirmed', `${sender!.email} is confirmed.`);
    page(
      res,
      200,
      'Confirm your sender address?',
      `Emails will come from ${sender!.email}, and replies to them will be forwarded here.`,
      `/confirm-sender/${encodeURIComponent(req.params.token)}`,
    );
  });

  router.post('/confirm-sender/:token', express.urlencoded({ extended: false, limit: '1kb' }), async (req, res) => {
    const { sender, check } = await resolveConfirmationLink(services, req.params.token);
    if (check !== 'valid') return refused(res, check);
    // Only while the address is still the one the link was signed for.
    await confirmSenderEmail(services, sender!);
    page(res, 200, 'Address confirmed', `${sender!.email} is confirmed.`);
  });
  return router;
}
