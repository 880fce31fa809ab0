import { recipientKeyOf } from '../domain/company.js';
import { eq, sql } from 'drizzle-orm';
import { dailyCapReached, senderCapReached } from '../db/daily-sends.js';
import { accounts, leads, messages, oneOffEmails, senders } from '../db/schema.js';
import { TemplateError } from '../domain/merge-fields.js';
import { providerTags } from '../domain/sender.js';
import { SUPPRESSION_OUTCOME, suppressionOf } from '../domain/suppression.js';
import { deliverMessage, type Message } from './deliver-message.js';
import { renderMessage } from '../domain/render-message.js';
import type { SendDeps } from './send-email.js';

export type OneOffOutcome =
  { outcome: 'sent' | 'suppressed' | 'failed'; reason?: string } | { outcome: 'postponed'; until: string; reason: string };

/** A one-off email: same branding, footer, suppression check and reply routing as a step. */
export function createSendOneOff(deps: SendDeps) {
  const { db, config } = deps;
  return async function sendOneOff({ oneOffId }: { oneOffId: string }): Promise<OneOffOutcome> {
    const key = `one-off-${oneOffId}`;
    const decided = await db
      .transaction(async (tx): Promise<OneOffOutcome | Message> => {
        const [row] = await tx
          .select({ oneOff: oneOffEmails, lead: leads, account: accounts, sender: senders })
          .from(oneOffEmails)
          .innerJoin(leads, eq(leads.id, oneOffEmails.leadId))
          .innerJoin(accounts, eq(accounts.id, oneOffEmails.accountId))
          // A one-off email goes as the account's default sender.
          .leftJoin(senders, eq(senders.id, accounts.defaultSenderId))
          .where(eq(oneOffEmails.id, oneOffId))
          .for('update', { of: oneOffEmails });
        if (!row) return { outcome: 'failed', reason: 'the email no longer exists' };
        const [existing] = await tx.select().from(messages).where(eq(messages.idempotencyKey, key));
        if (existing) return existing;
        const { oneOff, lead, account, sender } = row;
        const suppression = suppressionOf(lead);
        if (suppression) {
          const suppressed = SUPPRESSION_OUTCOME[suppression].reason;
          await tx.update(oneOffEmails).set({ status: 'suppressed', reason: suppressed }).where(eq(oneOffEmails.id, oneOffId));
          return { outcome: 'suppressed', reason: suppressed };
        }
        const rendered = await renderMessage(config, {
          subject: oneOff.subject,
          body: oneOff.body,
          replyToken: oneOff.replyToken,
          lead,
          account,
          sender,
        });
        // The daily caps count one-off emails too: over the account's or the sender's, the email
        // waits for that cap's next day.
        const capped =
          (await dailyCapReached(tx, account, new Date())) ??
          (sender ? await senderCapReached(tx, sender, account.timezone, new Date()) : null);
        if (capped) return { outcome: 'postponed', until: capped.until.toISOString(), reason: `daily cap of ${capped.cap} emails reached` };
        const [message] = await tx
          .insert(messages)
          .values({
            ...rendered,
            accountId: account.id,
            senderId: sender?.id ?? null,
            leadId: lead.id,
            idempotencyKey: key,
            toEmail: lead.email!,
            // Counted by the recipient-domain cap (a one-off is a person's email: it is not held by it).
            recipientKey: recipientKeyOf(lead.email!),
            replyToken: oneOff.replyToken,
            tags: providerTags({ account_id: account.id, one_off_id: oneOffId, message_id: rendered.id }),
            status: 'sending',
          })
          .returning();
        return message!;
      })
      .catch(async (error: unknown): Promise<OneOffOutcome> => {
        // An email that cannot be rendered will not render on a retry either.
        if (!(error instanceof TemplateError)) throw error;
        const reason = `the email cannot be rendered: ${error.message}`;
        await db.update(oneOffEmails).set({ status: 'failed', reason }).where(eq(oneOffEmails.id, oneOffId));
        return { outcome: 'failed', reason };
      });
    if ('outcome' in decided) return decided;
    if (decided.status === 'sent') return { outcome: 'sent' };
    const result = await deliverMessage(deps, decided, {
      alsoWhenSent: () => ({
        one_off: sql`update one_off_emails set status = 'sent', reason = null where id = ${oneOffId} and exists (select from sent)`,
      }),
    });
    if (!result.delivered && 'postponedUntil' in result) {
      return { outcome: 'postponed', until: result.postponedUntil.toISOString(), reason: result.reason };
    }
    if (result.delivered) return { outcome: 'sent' };
    await db.update(oneOffEmails).set({ status: 'failed', reason: result.rejected }).where(eq(oneOffEmails.id, oneOffId));
    return { outcome: 'failed', reason: result.rejected };
  };
}
