import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams, pageQuery, stepParams } from '../schemas/common.js';
import {
  oneOffAcceptedSchema,
  oneOffInputSchema,
  oneOffSchema,
  outboxPageSchema,
  previewSchema,
  renderedSchema,
  testSendAnswerSchema,
  testSendSchema,
} from '../schemas/emails.js';
import { findOneOffEmail, listOutbox, previewStep, sendOneOffEmail, sendTestEmail } from '../services/emails.js';
import { parse } from '../validate.js';

export function emailRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db, temporal: deps.temporal, config: deps.config, mailer: deps.mailer };
  const router = Router();

  // The outbox: every email stored for this account, newest first, as it went (or would go) out.
  router.get('/outbox', async (req, res) => {
    const query = parse(pageQuery, req.query, 'query');
    const { delivery, page, nextCursor } = await listOutbox(services, res.locals.account, query);
    answer(res, 200, outboxPageSchema, {
      delivery,
      data: page.map((m) => ({
        id: m.id,
        enrolmentId: m.enrolmentId,
        stepId: m.stepId,
        variantId: m.variantId,
        senderId: m.senderId,
        leadId: m.leadId,
        from: m.fromEmail,
        to: m.toEmail,
        replyTo: m.replyTo,
        subject: m.subject,
        html: m.html,
        text: m.text,
        headers: m.headers,
        status: m.status,
        failureReason: m.failureReason,
        sentAt: m.sentAt?.toISOString() ?? null,
        createdAt: m.createdAt.toISOString(),
      })),
      nextCursor,
    });
  });

  // Preview: render a step for a lead (or sample data) exactly as it would be sent; nothing is sent.
  router.post('/sequences/:id/steps/:stepId/preview', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const options = parse(previewSchema, req.body ?? {});
    const rendered = await previewStep(services, res.locals.account, id, stepId, options);
    answer(res, 200, renderedSchema, { from: rendered.fromEmail, subject: rendered.subject, html: rendered.html, text: rendered.text });
  });

  // A test copy of a step to the account's own confirmed address (sample data, marked [Test]),
  // with the footer and headers a real email carries; it counts against the daily cap.
  router.post('/sequences/:id/steps/:stepId/test', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const options = parse(testSendSchema, req.body ?? {});
    answer(res, 202, testSendAnswerSchema, await sendTestEmail(services, res.locals.account, id, stepId, options));
  });

  // One-off email to a lead, outside any sequence, sent durably by its own workflow.
  router.post('/leads/:id/emails', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const input = parse(oneOffInputSchema, req.body);
    const oneOff = await sendOneOffEmail(services, res.locals.account, id, input);
    answer(res, 202, oneOffAcceptedSchema, { id: oneOff.id, leadId: oneOff.leadId, status: oneOff.status, subject: oneOff.subject });
  });

  router.get('/emails/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const oneOff = await findOneOffEmail(services, res.locals.account, id);
    answer(res, 200, oneOffSchema, {
      id: oneOff.id,
      leadId: oneOff.leadId,
      subject: oneOff.subject,
      status: oneOff.status,
      reason: oneOff.reason,
      createdAt: oneOff.createdAt.toISOString(),
    });
  });

  return router;
}
