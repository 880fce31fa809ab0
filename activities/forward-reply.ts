import { eq } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { accounts, inboundMessages, leads, sequences, enrolments } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { emailsSent } from '../metrics.js';
import type { Mailer } from './mailer.js';
import escapeHtml from 'escape-html';
import { forwardSubject, storableLine } from '../domain/inbound.js';

/** An address Reply-To can carry as it is; anything else (no From, a malformed one) gets no Reply-To. */
const plainAddress = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+$/;

/**
 * Forwards an email to a reply address to the user's own mailbox with Reply-To set to whoever
 * actually wrote it, so answering continues the conversation directly; it says who that is, and
 * when it is not the lead (README, "Who may stop a sequence by replying"). This email is also the
 * user's notification of the reply. It goes only to a sender address the account has confirmed:
 * otherwise anyone could have replies (and what strangers write) relayed to any mailbox.
 */
export function createForwardReply({ db, mailer, config }: { db: Db; mailer: Mailer; config: Config; logger: Logger }) {
  return async function forwardReply({ inboundId }: { inboundId: string }): Promise<{ forwarded: boolean; reason?: string }> {
    const [row] = await db
      .select({ inbound: inboundMessages, account: accounts, lead: leads })
      .from(inboundMessages)
      .innerJoin(accounts, eq(accounts.id, inboundMessages.accountId))
      .leftJoin(leads, eq(leads.id, inboundMessages.leadId))
      .where(eq(inboundMessages.id, inboundId));
    if (!row) return { forwarded: false, reason: 'reply not found' };
    if (!row.account.senderEmail) return { forwarded: false, reason: 'the account has no senderEmail to forward to' };
    if (!row.account.senderEmailConfirmedAt) return { forwarded: false, reason: 'the account has not confirmed its sender address' };
    let sequenceName = '';
    if (row.inbound.enrolmentId) {
      const [seq] = await db
        .select({ name: sequences.name })
        .from(enrolments)
        .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
        .where(eq(enrolments.id, row.inbound.enrolmentId));
      sequenceName = seq?.name ?? '';
    }
    const leadName = storableLine([row.lead?.firstName, row.lead?.lastName].filter(Boolean).join(' '), 200) || row.lead?.email || '';
    const writer = row.inbound.fromEmail;
    const sequencePart = sequenceName ? ` sequence "${storableLine(sequenceName, 200)}"` : ' email';
    const intro =
      row.inbound.sender === 'lead'
        ? `${leadName || writer} replied${sequenceName ? ` to your sequence "${storableLine(sequenceName, 200)}"` : ''}. Reply to this email to answer them directly.`
        : row.inbound.sender === 'lead_domain'
          ? `${writer}, at the domain of ${leadName || 'the lead'}, replied to ${leadName ? `${leadName}'s` : 'your'}${sequencePart}. Reply to this email to answer ${writer} directly.`
          : `${writer || 'Someone without a From address'} wrote to the reply address of ${leadName ? `${leadName}'s` : 'your'}${sequencePart}. This is not the lead's address: the sequence was not stopped. Replying answers ${writer || 'nobody'}, not ${leadName || 'the lead'}.`;
    const who = row.inbound.sender === 'lead' ? leadName || writer : writer || 'Unknown sender';
    await mailer.send({
      idempotencyKey: `forward-${inboundId}`,
      from: `"${who.replace(/["\\\r\n<>]/g, '')} via Sequences" <${config.PLATFORM_FROM_EMAIL}>`,
      to: row.account.senderEmail,
      ...(plainAddress.test(writer) ? { replyTo: writer } : {}),
      subject: forwardSubject(row.inbound.subject),
      text: `${intro}\n\n${row.inbound.text}`,
      html: `<p style="color:#6b7280">${escapeHtml(intro)}</p><blockquote style="margin:0;padding-left:12px;border-left:3px solid #d1d5db;white-space:pre-wrap">${escapeHtml(row.inbound.text)}</blockquote>`,
    });
    emailsSent.inc({ kind: 'forward' });
    return { forwarded: true };
  };
}
