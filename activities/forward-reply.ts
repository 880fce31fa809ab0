import { eq } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { accounts, inboundMessages, leads, sequences, enrolments } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { emailsSent } from '../metrics.js';
import type { Mailer } from './mailer.js';
import escapeHtml from 'escape-html';


/**
 * Forwards a lead's reply to the user's own mailbox with Reply-To set to the lead, so answering
 * continues the conversation directly. This email is also the user's notification of the reply.
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
    let sequenceName = '';
    if (row.inbound.enrolmentId) {
      const [seq] = await db
        .select({ name: sequences.name })
        .from(enrolments)
        .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
        .where(eq(enrolments.id, row.inbound.enrolmentId));
      sequenceName = seq?.name ?? '';
    }
    const who = [row.lead?.firstName, row.lead?.lastName].filter(Boolean).join(' ') || row.inbound.fromEmail;
    const intro = `${who} replied${sequenceName ? ` to your sequence "${sequenceName}"` : ''}. Reply to this email to answer them directly.`;
    await mailer.send({
      idempotencyKey: `forward-${inboundId}`,
      from: `"${who.replace(/["\\\r\n<>]/g, '')} via Sequences" <${config.PLATFORM_FROM_EMAIL}>`,
      to: row.account.senderEmail,
      replyTo: row.inbound.fromEmail,
      subject: row.inbound.subject.toLowerCase().startsWith('re:') ? row.inbound.subject : `Re: ${row.inbound.subject}`,
      text: `${intro}\n\n${row.inbound.text}`,
      html: `<p style="color:#6b7280">${escapeHtml(intro)}</p><blockquote style="margin:0;padding-left:12px;border-left:3px solid #d1d5db;white-space:pre-wrap">${escapeHtml(row.inbound.text)}</blockquote>`,
    });
    emailsSent.inc({ kind: 'forward' });
    return { forwarded: true };
  };
}
