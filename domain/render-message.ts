import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { Account } from '../db/accounts.js';
import type { EmailFormat, leads } from '../db/schema.js';
import type { Quote } from './compose-email.js';
import type { ThreadReply } from './thread.js';
import { composeOffThread } from './compose-pool.js';
import type { MergeContext } from './merge-fields.js';
import { fromHeader, fromIdentity, type Sender } from './sender.js';
import { unsubscribeToken } from './unsubscribe-token.js';

// An email to a lead as it is stored and sent, whichever path sends it: a sequence step
// (activities/send-email.ts), a one-off email (activities/send-one-off.ts), or a test copy
// (api/services/emails.ts).

type Lead = typeof leads.$inferSelect;

/** What a template may see of a lead; previews pass sample data of the same shape. */
export type MergeableLead = Pick<Lead, 'firstName' | 'lastName' | 'email' | 'company' | 'title' | 'phone' | 'customFields'>;

/** `{{ sender.* }}` reads the email's sender (the enrolment's); without one, the account's name. */
export function mergeContextOf(lead: MergeableLead, account: Account, sender: Sender | null): MergeContext {
  return {
    lead: {
      first_name: lead.firstName,
      last_name: lead.lastName,
      full_name: [lead.firstName, lead.lastName].filter(Boolean).join(' '),
      email: lead.email ?? '',
      company: lead.company,
      title: lead.title,
      phone: lead.phone,
    },
    custom: lead.customFields,
    sender: {
      name: sender?.name ?? '',
      email: sender?.email ?? '',
      company: account.companyName,
      signature: sender?.signature ?? '',
    },
  };
}

/** The address a lead's reply to this enrolment (or one-off email) goes to: it routes the reply back. */
export const replyAddress = (config: Pick<Config, 'INBOUND_DOMAIN'>, replyToken: string) => `r-${replyToken}@${config.INBOUND_DOMAIN}`;

/** Links and headers every email carries: unsubscribe (RFC 8058 one-click) and reply routing. */
export function envelopeFor(config: Config, messageId: string, replyToken: string) {
  const token = unsubscribeToken(config.UNSUBSCRIBE_SECRET, messageId);
  const unsubscribeUrl = `${config.PUBLIC_BASE_URL}/u/${token}`;
  return {
    unsubscribeUrl,
    replyTo: replyAddress(config, replyToken),
    headers: {
      // Our own id, so a reply's In-Reply-To/References can name the message it answers (the
      // provider may put its own in its place: threads then chain on the one it reports). No
      // X-Entity-Ref-ID: Resend documents it as the way to keep Gmail from threading.
      'Message-ID': `<${messageId}@${config.INBOUND_DOMAIN}>`,
      'List-Unsubscribe': `<${unsubscribeUrl}>, <mailto:unsubscribe@${config.INBOUND_DOMAIN}?subject=unsubscribe%20${token}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  };
}

/**
 * Renders an email to a lead exactly as it will be stored and sent: a fresh message id, its
 * unsubscribe link and headers, the From line and the branded body.
 */
export async function renderMessage(
  config: Config,
  input: {
    subject: string;
    body: string;
    replyToken: string;
    lead: MergeableLead;
    account: Account;
    /** Who it comes from: the enrolment's sender (or the account's default for one-off emails). */
    sender: Sender | null;
    format?: EmailFormat;
    /** A reply in the thread of the enrolment's previous email (domain/thread.ts), and its quote. */
    thread?: { reply: ThreadReply; quote: Quote | null } | null;
  },
) {
  const id = randomUUID();
  const envelope = envelopeFor(config, id, input.replyToken);
  const reply = input.thread?.reply;
  const { bodyText, ...composed } = await composeOffThread({
    subject: input.subject,
    body: input.body,
    merge: mergeContextOf(input.lead, input.account, input.sender),
    branding: brandingOf(input.account, input.sender),
    unsubscribeUrl: envelope.unsubscribeUrl,
    format: input.format ?? 'branded',
    ...(reply ? { literalSubject: reply.subject } : {}),
    quote: input.thread?.quote ?? null,
  });
  return {
    id,
    fromEmail: fromHeader(fromIdentity(input.account, input.sender), config.PLATFORM_FROM_EMAIL),
    replyTo: envelope.replyTo,
    headers: { ...envelope.headers, ...(reply ? reply.headers : {}) },
    // The thread this email is in: a reply's, or its own (its subject as rendered now).
    threadSubject: reply ? reply.threadSubject : composed.subject,
    threadReferences: reply ? reply.references : [],
    bodyText,
    ...composed,
  };
}

export function brandingOf(account: Account, sender: Sender | null) {
  return {
    senderName: sender?.name || account.name,
    companyName: account.companyName,
    postalAddress: account.postalAddress,
    logoUrl: account.logoUrl,
    brandColor: account.brandColor,
    signature: sender?.signature ?? '',
  };
}
