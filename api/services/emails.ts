import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { and, eq, isNull } from 'drizzle-orm';
import type { Mailer } from '../../activities/mailer.js';
import type { Config } from '../../config.js';
import type { Account } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { dailyCapReached } from '../../db/daily-sends.js';
import { leadSuppressedSql } from '../../db/enrolment-queries.js';
import { leads, messages, oneOffEmails, steps, stepVariants, testEmails } from '../../db/schema.js';
import { REFUSAL_MESSAGES } from '../../domain/enrolment-rules.js';
import { renderMessage } from '../../domain/render-message.js';
import { testRecipient } from '../../domain/sender.js';
import { defaultSenderOf, liveSender, senderOrNull } from './senders.js';
import { suppressionOf } from '../../domain/suppression.js';
import { startOneOffEmail } from '../../temporal/client.js';
import { ApiError, notFound } from '../errors.js';
import { keyset, pageOf } from '../pagination.js';
import { renderFor } from './render-queue.js';
import { checkStepTemplates, findSequence } from './sequences.js';

// Emails outside a lead's enrolment: the outbox of every stored email, a step's preview and test
// copy, and one-off emails to a lead (each sent durably by its own workflow).

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
  /** Used only for test emails; sequence and one-off emails go through the worker. */
  mailer: Mailer;
}

export type OneOffEmail = typeof oneOffEmails.$inferSelect;

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

/** The outbox: every email stored for this account, newest first, as it went (or would go) out. */
export async function listOutbox(
  { db, config }: Pick<Deps, 'db' | 'config'>,
  account: Account,
  { limit, cursor }: { limit: number; cursor?: { at: Date; id: string } },
) {
  const { where, orderBy } = keyset(cursor, messages.createdAt, messages.id, 'desc');
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.accountId, account.id), where))
    .orderBy(...orderBy)
    .limit(limit + 1);
  const delivery: 'resend' | 'local-outbox' = config.RESEND_API_KEY ? 'resend' : 'local-outbox';
  return { delivery, ...pageOf(rows, limit, (m) => ({ at: m.createdAt, id: m.id })) };
}

/**
 * A live step of the sequence, the content to render (one of its variants when asked for, else
 * its own), and the lead to render it for (the sample lead without one).
 */
async function renderStep(db: Db, accountId: string, sequenceId: string, stepId: string, options: { leadId?: string; variantId?: string }) {
  const [step] = await db
    .select()
    .from(steps)
    .where(and(eq(steps.id, stepId), eq(steps.sequenceId, sequenceId), isNull(steps.deletedAt)));
  if (!step) throw notFound('Step');
  let content = { subject: step.subject, body: step.body };
  if (options.variantId) {
    const [variant] = await db
      .select({ subject: stepVariants.subject, body: stepVariants.body })
      .from(stepVariants)
      .where(and(eq(stepVariants.id, options.variantId), eq(stepVariants.stepId, stepId), eq(stepVariants.accountId, accountId)));
    if (!variant) throw new ApiError(404, 'not_found', 'Variant not found in this step', 'variantId');
    content = variant;
  }
  let lead: typeof SAMPLE_LEAD = SAMPLE_LEAD;
  if (options.leadId) {
    const [row] = await db
      .select()
      .from(leads)
      .where(and(eq(leads.id, options.leadId), eq(leads.accountId, accountId)));
    if (!row) throw new ApiError(404, 'not_found', 'Lead not found', 'leadId');
    lead = { ...row, email: row.email ?? '' };
  }
  return { content, lead };
}

/** Renders a step for a lead (or sample data) exactly as it would be sent; nothing is sent. */
export async function previewStep(
  { db, config }: Pick<Deps, 'db' | 'config'>,
  account: Account,
  sequenceId: string,
  stepId: string,
  options: { leadId?: string; variantId?: string; senderId?: string } = {},
) {
  const sequence = await findSequence(db, account, sequenceId);
  const sender = await senderOfStep(db, account, sequence, options.senderId);
  const { content, lead } = await renderStep(db, account.id, sequenceId, stepId, options);
  return renderFor(account.id, () => renderMessage(config, { ...content, replyToken: 'preview', lead, account, sender }));
}

/** Who a preview or test copy is rendered as: the sender asked for, else the sequence's default, else the account's. */
async function senderOfStep(db: Db, account: Account, sequence: { senderId: string | null }, senderId: string | undefined) {
  if (senderId) return liveSender(db, account, senderId);
  // A retired default is passed over, as enrolling does (sendersForEnrolment).
  const own = sequence.senderId ? await senderOrNull(db, account, sequence.senderId) : null;
  return own && !own.retiredAt ? own : defaultSenderOf(db, account);
}

/**
 * A test copy of a step to the account's own confirmed address (sample data, marked [Test]),
 * with the footer and headers a real email carries; it counts against the daily cap.
 */
export async function sendTestEmail(
  { db, config, mailer }: Pick<Deps, 'db' | 'config' | 'mailer'>,
  account: Account,
  sequenceId: string,
  stepId: string,
  { to, variantId, senderId }: { to?: string; variantId?: string; senderId?: string } = {},
): Promise<{ to: string; providerId: string }> {
  const sequence = await findSequence(db, account, sequenceId);
  const sender = await senderOfStep(db, account, sequence, senderId);
  const recipient = testRecipient(sender, to);
  if ('refused' in recipient) throw new ApiError(422, recipient.refused, recipient.message, 'to');
  const { content, lead } = await renderStep(db, account.id, sequenceId, stepId, { variantId });
  const rendered = await renderFor(account.id, () => renderMessage(config, { ...content, replyToken: 'test', lead, account, sender }));
  const testEmailId = await db.transaction(async (tx) => {
    const [suppressed] = await tx
      .select({ id: leads.id })
      .from(leads)
      .where(and(eq(leads.accountId, account.id), eq(leads.email, recipient.to), leadSuppressedSql()));
    if (suppressed) {
      throw new ApiError(
        422,
        'recipient_suppressed',
        `${recipient.to} unsubscribed, bounced or is marked do not contact: nothing is sent to it`,
        'to',
      );
    }
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
  return { to: recipient.to, providerId };
}

/** One-off email to a lead, outside any sequence, sent durably by its own workflow. */
export async function sendOneOffEmail(
  deps: Pick<Deps, 'db' | 'temporal' | 'config'>,
  account: Account,
  leadId: string,
  input: { subject: string; body: string },
): Promise<OneOffEmail> {
  const { db } = deps;
  await checkStepTemplates(account.id, [input]);
  const [lead] = await db
    .select()
    .from(leads)
    .where(and(eq(leads.id, leadId), eq(leads.accountId, account.id)));
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
  return oneOff!;
}

export async function findOneOffEmail({ db }: Pick<Deps, 'db'>, account: Account, id: string): Promise<OneOffEmail> {
  const [oneOff] = await db
    .select()
    .from(oneOffEmails)
    .where(and(eq(oneOffEmails.id, id), eq(oneOffEmails.accountId, account.id)));
  if (!oneOff) throw notFound('Email');
  return oneOff;
}
