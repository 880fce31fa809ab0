import { eq } from 'drizzle-orm';
import { replyOwner } from '../db/senders.js';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { inboundMessages, leads, sequences, enrolments } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { emailsSent } from '../metrics.js';
import type { Mailer } from './mailer.js';
import escapeHtml from 'escape-html';
import { forwardSubject, storableLine } from '../domain/inbound.js';

/** An address Reply-To can carry as it is; anything else (no From, a malformed one) gets no Reply-To. */
const plainAddress = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+$/;

/**
 * Forwards an email to a reply address to the mailbox of the sender whose email it answers (the
 * enrolment's; for a one-off email, the account's default sender), with Reply-To set to whoever
 * actually wrote it, so answering continues the conversation directly; it says who that is, and
 * when it is not the lead (README, "Who may stop a sequence by replying"). This email is also the
 * rep's notification of the reply. It goes only to an address its sender has confirmed: otherwise
 * anyone could have replies (and what strangers write) relayed to any mailbox.
 */
export function createForwardReply({ db, mailer, config }: { db: Db; mailer: Mailer; config: Config; logger: Logger }) {
  return async function forwardReply({ inboundId }: { inboundId: string }): Promise<{ forwarded: boolean; reason?: string }> {
    const [row] = await db
      .select({ inbound: inboundMessages, lead: leads, sequenceName: sequences.name })
      .from(inboundMessages)
      .leftJoin(leads, eq(leads.id, inboundMessages.leadId))
      .leftJoin(enrolments, eq(enrolments.id, inboundMessages.enrolmentId))
      .leftJoin(sequences, eq(sequences.id, enrolments.sequenceId))
      .where(eq(inboundMessages.id, inboundId));
    if (!row) return { forwarded: false, reason: 'reply not found' };
    const { inbound } = row;
    const owner = await replyOwner(db, { accountId: inbound.accountId, messageId: inbound.messageId, enrolmentId: inbound.enrolmentId });
    if (!owner?.email) return { forwarded: false, reason: 'its sender has no email address to forward to' };
    if (!owner.emailConfirmedAt) return { forwarded: false, reason: 'its sender has not confirmed their address' };
    const sequenceName = row.sequenceName ?? '';
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
      to: owner.email,
      ...(plainAddress.test(writer) ? { replyTo: writer } : {}),
      subject: forwardSubject(row.inbound.subject),
      text: `${intro}\n\n${row.inbound.text}`,
      html: `<p style="color:#6b7280">${escapeHtml(intro)}</p><blockquote style="margin:0;padding-left:12px;border-left:3px solid #d1d5db;white-space:pre-wrap">${escapeHtml(row.inbound.text)}</blockquote>`,
    });
    emailsSent.inc({ kind: 'forward' });
    return { forwarded: true };
  };
}
