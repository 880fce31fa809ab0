import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Unsubscribe links carry `<messageId>.<signature>`: unguessable (the id is random), tied to one
 * message (so to one lead), and unforgeable without the server's secret.
 */
const sign = (secret: string, messageId: string) =>
  createHmac('sha256', secret).update(`unsubscribe:${messageId}`).digest('base64url').slice(0, 32);

export function unsubscribeToken(secret: string, messageId: string): string {
  return `${messageId}.${sign(secret, messageId)}`;
}

export function verifyUnsubscribeToken(secret: string, token: string): string | null {
  const [messageId, signature, ...rest] = token.split('.');
  if (!messageId || !signature || rest.length || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(messageId))
    return null;
  const expected = Buffer.from(sign(secret, messageId));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given) ? messageId : null;
}
