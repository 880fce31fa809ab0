import { createHmac, timingSafeEqual } from 'node:crypto';

// The link that proves a sender reads their mailbox: `<senderId>.<expiry>.<signature>`, signed
// over the address itself, so changing the address makes every earlier link worthless. (Links sent
// before there were senders carry the account's id, which its migrated sender kept as its own.)

export const CONFIRMATION_LIFETIME_MS = 48 * 3600 * 1000;

const sign = (secret: string, senderId: string, email: string, expires: number) =>
  createHmac('sha256', secret).update(`confirm-sender:${senderId}:${email.toLowerCase()}:${expires}`).digest('base64url').slice(0, 32);

export function senderConfirmationToken(secret: string, senderId: string, email: string, now: Date): string {
  const expires = Math.floor((now.getTime() + CONFIRMATION_LIFETIME_MS) / 1000);
  return `${senderId}.${expires}.${sign(secret, senderId, email, expires)}`;
}

/** The sender the token names, before its signature is checked against that sender's address. */
export function tokenSenderId(token: string): string | null {
  const [senderId, expires, signature, ...rest] = token.split('.');
  return senderId &&
    expires &&
    signature &&
    !rest.length &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(senderId) &&
    /^\d{1,12}$/.test(expires)
    ? senderId
    : null;
}

export function verifySenderConfirmationToken(secret: string, token: string, email: string, now: Date): 'valid' | 'invalid' | 'expired' {
  const senderId = tokenSenderId(token);
  if (!senderId) return 'invalid';
  const [, expiresText, signature] = token.split('.') as [string, string, string];
  const expires = Number(expiresText);
  const expected = Buffer.from(sign(secret, senderId, email, expires));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
  return expires * 1000 < now.getTime() ? 'expired' : 'valid';
}
