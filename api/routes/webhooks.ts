import express, { Router } from 'express';
import { eq } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import { webhookEvents } from '../../db/schema.js';
import { webhookEventsTotal } from '../../metrics.js';
import type { AppDeps } from '../app.js';
import { ApiError } from '../errors.js';
import { applyEmailEvent, handleInboundEmail, type EmailEvent } from '../services/inbound.js';

const eventSchema = z.object({ type: z.string().min(1), created_at: z.string().optional(), data: z.record(z.string(), z.unknown()).default({}) });

/**
 * What comes back from the email world. Public routes (no API key): each proves itself by a
 * signature (Resend webhooks) or a shared secret (raw MIME from another inbound provider).
 */
export function webhookRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();
  const inboundDeps = { db, temporal: deps.temporal, config: deps.config, logger: deps.logger };

  // Resend webhooks are signed Standard-Webhooks/Svix style; the raw body is what is signed.
  router.post('/webhooks/resend', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const secret = deps.config.RESEND_WEBHOOK_SECRET;
    if (!secret) throw new ApiError(503, 'webhooks_not_configured', 'RESEND_WEBHOOK_SECRET is not set on the server');
    const payload = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const header = (name: string) => req.get(`svix-${name}`) ?? req.get(`webhook-${name}`) ?? '';
    const id = header('id');
    try {
      // Checks the HMAC and that the timestamp is within five minutes.
      new Webhook(secret).verify(payload, { 'webhook-id': id, 'webhook-timestamp': header('timestamp'), 'webhook-signature': header('signature') });
    } catch (error) {
      if (error instanceof WebhookVerificationError || error instanceof Error) {
        throw new ApiError(401, 'invalid_signature', `Webhook signature rejected: ${error.message}`);
      }
      throw error;
    }
    const parsed = eventSchema.safeParse(JSON.parse(payload));
    if (!parsed.success) throw new ApiError(400, 'validation_error', 'Not a Resend event');
    const event = parsed.data as EmailEvent;

    // Each event id is handled once: a redelivery finds its row already processed.
    await db.insert(webhookEvents).values({ id, type: event.type, payload: event }).onConflictDoNothing();
    const [stored] = await db.select().from(webhookEvents).where(eq(webhookEvents.id, id));
    webhookEventsTotal.inc({ type: event.type, result: stored?.processedAt ? 'duplicate' : 'handled' });
    if (stored?.processedAt) {
      res.json({ received: true, duplicate: true });
      return;
    }
    const outcome = await applyEmailEvent(inboundDeps, event);
    await db.update(webhookEvents).set({ processedAt: new Date() }).where(eq(webhookEvents.id, id));
    req.log?.info({ eventId: id, type: event.type, outcome }, 'webhook event');
    res.json({ received: true, outcome });
  });

  // Raw MIME from any other inbound provider (Postmark, Mailgun, SES → HTTP).
  router.post('/inbound/mime', express.raw({ type: () => true, limit: '25mb' }), async (req, res) => {
    const secret = deps.config.INBOUND_MIME_SECRET;
    if (!secret) throw new ApiError(503, 'inbound_not_configured', 'INBOUND_MIME_SECRET is not set on the server');
    const given = Buffer.from(req.get('authorization') ?? '');
    const expected = Buffer.from(`Bearer ${secret}`);
    const { timingSafeEqual } = await import('node:crypto');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new ApiError(401, 'unauthorized', 'Wrong inbound secret');
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new ApiError(400, 'validation_error', 'Send the raw MIME message as the body');
    const mail = await simpleParser(req.body);
    const addresses = (value: typeof mail.to) => (Array.isArray(value) ? value : value ? [value] : []).flatMap((a) => a.value.map((v) => v.address ?? ''));
    const headers: Record<string, string> = {};
    for (const [key, value] of mail.headers) headers[key] = typeof value === 'string' ? value : Array.isArray(value) ? value.join(' ') : String((value as { value?: unknown })?.value ?? value);
    const outcome = await handleInboundEmail(inboundDeps, {
      providerId: mail.messageId ?? null,
      from: mail.from?.value[0]?.address ?? '',
      to: [...addresses(mail.to), ...addresses(mail.cc)],
      subject: mail.subject ?? '',
      text: mail.text ?? '',
      headers,
    });
    res.json({ received: true, outcome });
  });

  return router;
}
