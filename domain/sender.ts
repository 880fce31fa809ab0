/**
 * Who an email comes from. The user's name always shows; the address is on the account's
 * verified sending domain when it has one, else the platform's address.
 */
export function fromHeader(
  account: {
    name: string;
    senderName: string;
    senderEmail: string | null;
    sendingDomain: string | null;
    sendingDomainVerifiedAt: Date | null;
  },
  platformFromEmail: string,
): string {
  const name = (account.senderName || account.name).replace(/["\\\r\n<>]/g, '').trim();
  let address = platformFromEmail;
  if (account.sendingDomain && account.sendingDomainVerifiedAt) {
    const domain = account.sendingDomain.toLowerCase();
    const own = account.senderEmail?.toLowerCase();
    address = own?.endsWith(`@${domain}`) ? own : `${localPart(name) || 'hello'}@${domain}`;
  }
  return name ? `"${name}" <${address}>` : address;
}

const localPart = (name: string) =>
  name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '.')
    .replace(/^\.+|\.+$/g, '');

/** Resend tags allow ASCII letters, digits, `_` and `-` only. */
export function providerTags(ids: Record<string, string | null | undefined>): { name: string; value: string }[] {
  return Object.entries(ids)
    .filter((entry): entry is [string, string] => !!entry[1])
    .map(([name, value]) => ({ name, value: value.replace(/[^A-Za-z0-9_-]/g, '_') }));
}

export type TestRecipient = { to: string } | { refused: 'sender_email_unconfirmed' | 'test_recipient_not_allowed'; message: string };

/**
 * Where a test copy may go: only to the account's own sender address, and only once the account
 * has proved it reads that mailbox (a signed link sent there was confirmed). Anything else would
 * let any account mail anyone through us.
 */
export function testRecipient(
  account: { senderEmail: string | null; senderEmailConfirmedAt: Date | null },
  requested?: string,
): TestRecipient {
  const own = account.senderEmail?.toLowerCase();
  if (!own || !account.senderEmailConfirmedAt) {
    return {
      refused: 'sender_email_unconfirmed',
      message:
        "Test copies go to the account's sender address once it is confirmed: set senderEmail, then POST /v1/account/sender-email/confirmation and open the link sent there",
    };
  }
  if (requested !== undefined && requested.toLowerCase() !== own) {
    return { refused: 'test_recipient_not_allowed', message: `Test copies go only to the account's confirmed sender address (${own})` };
  }
  return { to: own };
}
