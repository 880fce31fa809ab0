import { and, count, eq, gte, isNull } from 'drizzle-orm';
import escapeHtml from 'escape-html';
import type { Mailer } from '../../activities/mailer.js';
import type { Config } from '../../config.js';
import type { Account, SenderRow } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { dailyCapReached } from '../../db/daily-sends.js';
import { accounts, senders, testEmails } from '../../db/schema.js';
import { senderConfirmationToken, tokenSenderId, verifySenderConfirmationToken } from '../../domain/sender-confirmation-token.js';
import { ApiError } from '../errors.js';

// Proof that a sender reads their mailbox: the confirmation email with its signed link (and the
// limits on sending it), the link's check, and the confirmation itself.

interface Deps {
  db: Db;
  config: Pick<Config, 'PUBLIC_BASE_URL' | 'UNSUBSCRIBE_SECRET' | 'PLATFORM_FROM_EMAIL'>;
  mailer: Mailer;
}

/**
 * The address may be a stranger's: one confirmation email per address per account per ten minutes,
 * and a day's at most twenty per account (one for each of its reps) and three to one address
 * whichever accounts ask. The email names no account and carries nothing the tenant wrote, so it
 * cannot carry a tenant's message either.
 */
const RESEND_INTERVAL_MS = 10 * 60_000;
const CONFIRMATIONS_PER_DAY = { account: 20, address: 3 };

/**
 * Sends a signed link to the sender's address, unless it is confirmed already. Until it is opened
 * and confirmed, nothing but that link goes there: no test copies, no forwarded replies (so a
 * sender address cannot be used to mail a stranger).
 */
export async function requestSenderConfirmation(
  { db, config, mailer }: Deps,
  account: Account,
  sender: SenderRow | null,
): Promise<{ to: string; confirmed: true } | { to: string; confirmed: false; providerId: string }> {
  if (!sender?.email) throw new ApiError(422, 'no_sender_email', 'Give the sender an email first (PATCH /v1/senders/{id})', 'email');
  if (sender.retiredAt) throw new ApiError(409, 'sender_retired', 'The sender is retired', 'senderId');
  if (sender.emailConfirmedAt) return { to: sender.email, confirmed: true };
  const email = sender.email;
  const now = new Date();
  await db.transaction(async (tx) => {
    // One account's requests count one after the other.
    await tx.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, account.id)).for('update');
    // Kept with the test copies (no step): they count against the daily cap alike.
    const [recent] = await tx
      .select({ id: testEmails.id })
      .from(testEmails)
      .where(
        and(
          eq(testEmails.accountId, account.id),
          eq(testEmails.toEmail, email),
          isNull(testEmails.stepId),
          gte(testEmails.createdAt, new Date(now.getTime() - RESEND_INTERVAL_MS)),
        ),
      );
    if (recent)
      throw new ApiError(429, 'confirmation_recently_sent', 'A confirmation link was sent less than ten minutes ago; open that one');
    // The address may be anyone's: a few links a day reach it, whichever accounts ask.
    const dayAgo = new Date(now.getTime() - 24 * 3600_000);
    const [byAccount] = await tx
      .select({ n: count() })
      .from(testEmails)
      .where(and(eq(testEmails.accountId, account.id), isNull(testEmails.stepId), gte(testEmails.createdAt, dayAgo)));
    const [byAddress] = await tx
      .select({ n: count() })
      .from(testEmails)
      .where(and(eq(testEmails.toEmail, email), isNull(testEmails.stepId), gte(testEmails.createdAt, dayAgo)));
    if ((byAccount?.n ?? 0) >= CONFIRMATIONS_PER_DAY.account || (byAddress?.n ?? 0) >= CONFIRMATIONS_PER_DAY.address) {
      throw new ApiError(
        429,
        'confirmation_limit_reached',
        "Enough confirmation links went out today (to this account's addresses, or to this address); try again tomorrow",
      );
    }
    const capped = await dailyCapReached(tx, account, now);
    if (capped)
      throw new ApiError(
        429,
        'daily_cap_reached',
        `The daily cap of ${capped.cap} emails is reached; the confirmation email counts against it`,
      );
    await tx.insert(testEmails).values({ accountId: account.id, stepId: null, toEmail: email });
  });
  const link = `${config.PUBLIC_BASE_URL}/confirm-sender/${senderConfirmationToken(config.UNSUBSCRIBE_SECRET, sender.id, email, now)}`;
  const { providerId } = await mailer.send({
    idempotencyKey: `confirm-sender-${sender.id}-${now.getTime()}`,
    from: config.PLATFORM_FROM_EMAIL,
    to: email,
    subject: 'Confirm your sender address',
    text: `Someone asked to send emails as ${email} through our service.\n\nIf that was you, confirm here (the link works for 48 hours):\n${link}\n\nIf it was not, ignore this email: nothing will be sent to or from this address.`,
    html: `<p>Someone asked to send emails as <b>${escapeHtml(email)}</b> through our service.</p><p>If that was you, <a href="${escapeHtml(link)}">confirm this address</a> (the link works for 48 hours).</p><p>If it was not, ignore this email: nothing will be sent to or from this address.</p>`,
  });
  return { to: email, confirmed: false, providerId };
}

/** The sender a confirmation link names, and whether the link is valid for their current address. */
export async function resolveConfirmationLink(
  { db, config }: Pick<Deps, 'db' | 'config'>,
  token: string,
): Promise<{ sender: SenderRow | undefined; check: 'valid' | 'invalid' | 'expired' }> {
  const senderId = tokenSenderId(token);
  const [sender] = senderId ? await db.select().from(senders).where(eq(senders.id, senderId)) : [];
  const check =
    sender?.email && !sender.retiredAt
      ? verifySenderConfirmationToken(config.UNSUBSCRIBE_SECRET, token, sender.email, new Date())
      : 'invalid';
  return { sender, check };
}

/** Confirms the sender's address, only while it is still the one the link was signed for. */
export async function confirmSenderEmail({ db }: Pick<Deps, 'db'>, sender: SenderRow): Promise<void> {
  await db
    .update(senders)
    .set({ emailConfirmedAt: new Date() })
    .where(and(eq(senders.id, sender.id), eq(senders.email, sender.email!), isNull(senders.emailConfirmedAt)));
}
