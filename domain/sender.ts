/** A sender (a rep) as an email needs them: the `senders` row, or null when the account has none. */
export interface Sender {
  id: string;
  name: string;
  email: string | null;
  emailConfirmedAt: Date | null;
  signature: string;
  retiredAt: Date | null;
}

/** Who an email says it is from: the account's name and sending domain, and its sender's name and address. */
export interface FromIdentity {
  name: string;
  senderName: string;
  senderEmail: string | null;
  sendingDomain: string | null;
  sendingDomainVerifiedAt: Date | null;
}

export const fromIdentity = (
  account: { name: string; sendingDomain: string | null; sendingDomainVerifiedAt: Date | null },
  sender: Pick<Sender, 'name' | 'email'> | null,
): FromIdentity => ({
  name: account.name,
  senderName: sender?.name ?? '',
  senderEmail: sender?.email ?? null,
  sendingDomain: account.sendingDomain,
  sendingDomainVerifiedAt: account.sendingDomainVerifiedAt,
});

/**
 * Who an email comes from. The sender's name always shows (the account's without one); the
 * address is the sender's own on the account's verified sending domain (a name-made one on it
 * otherwise), else the platform's address.
 */
export function fromHeader(account: FromIdentity, platformFromEmail: string): string {
  const name = (account.senderName || account.name).replace(NOT_IN_DISPLAY_NAME, '').trim();
  let address = platformFromEmail;
  if (account.sendingDomain && account.sendingDomainVerifiedAt) {
    const domain = account.sendingDomain.toLowerCase();
    const own = account.senderEmail?.toLowerCase();
    address = own?.endsWith(`@${domain}`) ? own : `${localPart(name) || 'hello'}@${domain}`;
  }
  return name ? `"${name}" <${address}>` : address;
}

// What never goes into the quoted display name: what would end the quoted string or open an
// address (`"`, `\`, `<`, `>`), every control character (C0 with CR/LF/TAB, DEL, C1 with NEL),
// Unicode's line and paragraph separators, the bidirectional embeddings, overrides and isolates
// (they make a name read as something else), and unpaired surrogates.
const NOT_IN_DISPLAY_NAME = /["\\<>]|\p{Cc}|\p{Zl}|\p{Zp}|[\u202A-\u202E\u2066-\u2069]|\p{Cs}/gu;

/** RFC 5321 4.5.3.1.1: a local part is at most 64 octets (ASCII here, so characters). */
const LOCAL_PART_MAX = 64;

// Latin letters NFKD does not split into a base letter and a mark.
const LATIN_LETTERS: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i' };

/**
 * The local part made from a name: accents dropped (`Zoë Müller` is `zoe.muller`), every other
 * run of what is not an ASCII letter or digit one dot, no dot at either end, at most 64.
 */
const localPart = (name: string) =>
  name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[ßæœøłđðþı]/g, (letter) => LATIN_LETTERS[letter] ?? letter)
    .replace(/[^a-z0-9]+/g, '.')
    .replace(/^\.+|\.+$/g, '')
    .slice(0, LOCAL_PART_MAX)
    .replace(/\.+$/, '');

/** Resend tags allow ASCII letters, digits, `_` and `-` only. */
export function providerTags(ids: Record<string, string | null | undefined>): { name: string; value: string }[] {
  return Object.entries(ids)
    .filter((entry): entry is [string, string] => !!entry[1])
    .map(([name, value]) => ({ name, value: value.replace(/[^A-Za-z0-9_-]/g, '_') }));
}

export type TestRecipient = { to: string } | { refused: 'sender_email_unconfirmed' | 'test_recipient_not_allowed'; message: string };

/**
 * Where a test copy may go: only to the sender's own mailbox, and only once they proved they read
 * it (a signed link sent there was confirmed). Anything else would let any account mail anyone
 * through us.
 */
export function testRecipient(sender: Pick<Sender, 'email' | 'emailConfirmedAt'> | null, requested?: string): TestRecipient {
  const own = sender?.email?.toLowerCase();
  if (!own || !sender?.emailConfirmedAt) {
    return {
      refused: 'sender_email_unconfirmed',
      message:
        "Test copies go to the sender's address once it is confirmed: give the sender an email, then POST /v1/senders/{id}/confirmation and open the link sent there",
    };
  }
  if (requested !== undefined && requested.toLowerCase() !== own) {
    return { refused: 'test_recipient_not_allowed', message: `Test copies go only to the sender's confirmed address (${own})` };
  }
  return { to: own };
}

/**
 * Which sender each lead of a round-robin enrolment gets: a lead whose latest enrolment in the
 * account was with one of the listed senders keeps them (a rep keeps the leads they already
 * write to); the others take the list's senders in turn, in request order.
 */
export function roundRobinSenders(leadIds: string[], senderIds: string[], previousSenderOf: Map<string, string>): Map<string, string> {
  const listed = new Set(senderIds);
  const assigned = new Map<string, string>();
  let turn = 0;
  for (const leadId of leadIds) {
    if (assigned.has(leadId)) continue;
    const previous = previousSenderOf.get(leadId);
    if (previous && listed.has(previous)) assigned.set(leadId, previous);
    else assigned.set(leadId, senderIds[turn++ % senderIds.length]!);
  }
  return assigned;
}
