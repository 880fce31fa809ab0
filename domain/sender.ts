/**
 * Who an email comes from. The user's name always shows; the address is on the account's
 * verified sending domain when it has one, else the platform's address.
 */
export function fromHeader(
  account: { name: string; senderName: string; senderEmail: string | null; sendingDomain: string | null; sendingDomainVerifiedAt: Date | null },
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
