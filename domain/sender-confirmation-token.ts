import { createHmac, timingSafeEqual } from 'node:crypto';

// The link that proves an account reads its sender mailbox: `<accountId>.<expiry>.<signature>`,
// signed over the address itself, so changing the address makes every earlier link worthless.

export const CONFIRMATION_LIFETIME_MS = 48 * 3600 * 1000;

const sign = (secret: string, accountId: string, email: string, expires: number) =>
  createHmac('sha256', secret).update(`confirm-sender:${accountId}:${email.toLowerCase()}:${expires}`).digest('base64url').slice(0, 32);

export function senderConfirmationToken(secret: string, accountId: string, email: string, now: Date): string {
  const expires = Math.floor((now.getTime() + CONFIRMATION_LIFETIME_MS) / 1000);
  return `${accountId}.${expires}.${sign(secret, accountId, email, expires)}`;
}

/** The account the token names, before its signature is checked against that account's address. */
export function tokenAccountId(token: string): string | null {
  const [accountId, expires, signature, ...rest] = token.split('.');
  return accountId &&
    expires &&
    signature &&
    !rest.length &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(accountId) &&
    /^\d{1,12}$/.test(expires)
    ? accountId
    : null;
}

export function verifySenderConfirmationToken(secret: string, token: string, email: string, now: Date): 'valid' | 'invalid' | 'expired' {
  const accountId = tokenAccountId(token);
  if (!accountId) return 'invalid';
  const [, expiresText, signature] = token.split('.') as [string, string, string];
  const expires = Number(expiresText);
  const expected = Buffer.from(sign(secret, accountId, email, expires));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
  return expires * 1000 < now.getTime() ? 'expired' : 'valid';
}
