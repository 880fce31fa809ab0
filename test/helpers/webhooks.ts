import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'svix';

/** A signing secret in Resend's format. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/**
 * Delivers a Resend webhook event the way Resend does: JSON body, svix-id / svix-timestamp /
 * svix-signature headers signed with the endpoint's secret (by the svix library itself).
 */
export async function deliverWebhook(
  baseUrl: string,
  secret: string,
  event: { type: string; data: Record<string, unknown>; created_at?: string },
  options: { id?: string; timestamp?: Date; signWith?: string } = {},
) {
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = options.timestamp ?? new Date();
  const body = JSON.stringify({ created_at: new Date().toISOString(), ...event });
  const signature = new Webhook(options.signWith ?? secret).sign(id, timestamp, body);
  const response = await fetch(`${baseUrl}/webhooks/resend`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'svix-id': id,
      'svix-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'svix-signature': signature,
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, any>, id };
}

/**
 * A lead's reply as another inbound provider posts it: raw MIME to /inbound/mime, addressed to
 * the enrolment's own reply address. Leaves a notification for the account.
 */
export async function deliverReplyMime(baseUrl: string, inboundSecret: string, reply: { from: string; replyToken: string; text?: string }) {
  const mime = [
    `From: <${reply.from}>`,
    `To: r-${reply.replyToken}@reply.example.com`,
    'Subject: Re: hello',
    `Message-ID: <${randomUUID()}@lead.test>`,
    '',
    reply.text ?? 'Interested, tell me more.',
  ].join('\r\n');
  const response = await fetch(`${baseUrl}/inbound/mime`, {
    method: 'POST',
    headers: { authorization: `Bearer ${inboundSecret}`, 'content-type': 'message/rfc822' },
    body: mime,
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}
