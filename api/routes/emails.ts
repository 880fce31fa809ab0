import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { and, eq, isNotNull, isNull, or } from 'drizzle-orm';
import { z } from 'zod';
import { REFUSAL_MESSAGES } from '../../domain/enrolment-rules.js';
import { renderMessage } from '../../domain/render-message.js';
import { suppressionOf } from '../../domain/suppression.js';
import { startOneOffEmail } from '../../temporal/client.js';
import { dailyCapReached } from '../../db/daily-sends.js';
import { leads, messages, oneOffEmails, steps, testEmails } from '../../db/schema.js';
import { testRecipient } from '../../domain/sender.js';
import { MAX_BODY_LENGTH } from '../schemas/sequences.js';
import { renderFor } from '../services/render-queue.js';
import type { AppDeps } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { keyset, pageOf } from '../pagination.js';
import { idParams, pageQuery, uuidParam } from '../schemas/common.js';
import { checkStepTemplates, findSequence } from '../services/sequences.js';
import type { oneOffSchema as oneOffAnswerSchema, outboxItemSchema } from '../schemas/responses.js';
import { parse } from '../validate.js';

export const oneOffSchema = z.object({
  subject: z.string().trim().min(1).max(998),
  body: z.string().min(1).max(MAX_BODY_LENGTH),
});
export const previewSchema = z.object({ leadId: z.uuid().optional() });
export const testSendSchema = z.object({ to: z.email().optional() });

/** What a preview shows when no lead is chosen. */
const SAMPLE_LEAD = {
  id: '00000000-0000-0000-0000-000000000000',
  email: 'alex.sample@example.com',
  firstName: 'Alex',
  lastName: 'Sample',
  company: 'Sample Co',
  title: 'Head of Sales',
  phone: '+1 555 0100',
  customFields: {} as Record<string, string>,
};

export function emailRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const { config } = deps;
  const router = Router();
  const mailer = deps.mailer;

  // The outbox: every email stored for this account, newest first, as it went (or would go) out.
  router.get('/outbox', async (req, res) => {
    const { limit, cursor } = parse(pageQuery, req.query, 'query');
    const { where, orderBy } = keyset(cursor, messages.createdAt, messages.id, 'desc');
    const rows = await db
      .select()
      .from(messages)
      .where(and(eq(messages.accountId, res.locals.account.id), where))
      .orderBy(...orderBy)
      .limit(limit + 1);
    const { page, nextCursor } = pageOf(rows, limit, (m) => ({ at: m.createdAt, id: m.id }));
    res.json({
      delivery: config.RESEND_API_KEY ? 'resend' : 'local-outbox',
      data: page.map(
        (m) =>
          ({
            id: m.id,
            enrolmentId: m.enrolmentId,
            stepId: m.stepId,
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
          }) satisfies z.input<typeof outboxItemSchema>,
      ),
      nextCursor,
    });
  });

  async function renderStep(accountId: string, sequenceId: string, stepId: string, leadId?: string) {
    const [step] = await db
      .select()
      .from(steps)
      .where(and(eq(steps.id, stepId), eq(steps.sequenceId, sequenceId), isNull(steps.deletedAt)));
    if (!step) throw notFound('Step');
    let lead: typeof SAMPLE_LEAD = SAMPLE_LEAD;
    if (leadId) {
      const [row] = await db
        .select()
        .from(leads)
        .where(and(eq(leads.id, leadId), eq(leads.accountId, accountId)));
      if (!row) throw new ApiError(404, 'not_found', 'Lead not found', 'leadId');
      lead = { ...row, email: row.email ?? '' };
    }
    return { step, lead };
  }

  // Preview: render a step for a lead (or sample data) exactly as it would be sent; nothing is sent.
  const stepParams = idParams.extend({ stepId: uuidParam });
  router.post('/sequences/:id/steps/:stepId/preview', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const { leadId } = parse(previewSchema, req.body ?? {});
    const account = res.locals.account;
    await findSequence(db, account, id);
    const { step, lead } = await renderStep(account.id, id, stepId, leadId);
    const rendered = await renderFor(account.id, () =>
      renderMessage(config, { subject: step.subject, body: step.body, replyToken: 'preview', lead, account }),
    );
    res.json({ from: rendered.fromEmail, subject: rendered.subject, html: rendered.html, text: rendered.text });
  });

  // A test copy of a step to the account's own confirmed address (sample data, marked [Test]),
  // with the footer and headers a real email carries; it counts against the daily cap.
  router.post('/sequences/:id/steps/:stepId/test', async (req, res) => {
    const { id, stepId } = parse(stepParams, req.params, 'params');
    const { to } = parse(testSendSchema, req.body ?? {});
    const account = res.locals.account;
    await findSequence(db, account, id);
    const recipient = testRecipient(account, to);
    if ('refused' in recipient) throw new ApiError(422, recipient.refused, recipient.message, 'to');
    const { step, lead } = await renderStep(account.id, id, stepId);
    const rendered = await renderFor(account.id, () =>
      renderMessage(config, { subject: step.subject, body: step.body, replyToken: 'test', lead, account }),
    );
    const testEmailId = await db.transaction(async (tx) => {
      const [suppressed] = await tx
        .select({ id: leads.id })
        .from(leads)
        .where(
          and(
            eq(leads.accountId, account.id),
            eq(leads.email, recipient.to),
            or(isNotNull(leads.unsubscribedAt), isNotNull(leads.bouncedAt)),
          ),
        );
      if (suppressed)
        throw new ApiError(422, 'recipient_suppressed', `${recipient.to} unsubscribed or bounced: nothing is sent to it`, 'to');
      const capped = await dailyCapReached(tx, account, new Date());
      if (capped)
        throw new ApiError(429, 'daily_cap_reached', `The daily cap of ${capped.cap} emails is reached; test copies count against it`);
      const [row] = await tx
        .insert(testEmails)
        .values({ accountId: account.id, stepId, toEmail: recipient.to })
        .returning({ id: testEmails.id });
      return row!.id;
    });
    const { providerId } = await mailer.send({
      idempotencyKey: `test-${testEmailId}`,
      from: rendered.fromEmail,
      to: recipient.to,
      subject: `[Test] ${rendered.subject}`,
      html: rendered.html,
      text: rendered.text,
      headers: rendered.headers,
    });
    await db.update(testEmails).set({ providerId }).where(eq(testEmails.id, testEmailId));
    res.status(202).json({ to: recipient.to, providerId });
  });

  // One-off email to a lead, outside any sequence, sent durably by its own workflow.
  router.post('/leads/:id/emails', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const input = parse(oneOffSchema, req.body);
    const account = res.locals.account;
    await checkStepTemplates(account.id, [input]);
    const [lead] = await db
      .select()
      .from(leads)
      .where(and(eq(leads.id, id), eq(leads.accountId, account.id)));
    if (!lead) throw notFound('Lead');
    const suppression = suppressionOf(lead);
    if (suppression) throw new ApiError(422, suppression, REFUSAL_MESSAGES[suppression], 'leadId');
    const [oneOff] = await db
      .insert(oneOffEmails)
      .values({
        accountId: account.id,
        leadId: lead.id,
        subject: input.subject,
        body: input.body,
        replyToken: randomBytes(12).toString('hex'),
      })
      .returning();
    await startOneOffEmail(deps, oneOff!.id, `One-off email to ${lead.email}: ${input.subject.slice(0, 80)}`);
    res.status(202).json({ id: oneOff!.id, leadId: lead.id, status: oneOff!.status, subject: oneOff!.subject });
  });

  router.get('/emails/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const [oneOff] = await db
      .select()
      .from(oneOffEmails)
      .where(and(eq(oneOffEmails.id, id), eq(oneOffEmails.accountId, res.locals.account.id)));
    if (!oneOff) throw notFound('Email');
    res.json({
      id: oneOff.id,
      leadId: oneOff.leadId,
      subject: oneOff.subject,
      status: oneOff.status,
      reason: oneOff.reason,
      createdAt: oneOff.createdAt.toISOString(),
    } satisfies z.input<typeof oneOffAnswerSchema>);
  });

  return router;
}
