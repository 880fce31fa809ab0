import { timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler } from 'express';
import { simpleParser, type ParsedMail, type SimpleParserOptions } from 'mailparser';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { boundMimeHead } from '../../domain/inbound.js';
import type { Logger } from '../../logger.js';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { resendEventSchema, webhookAnswerSchema } from '../schemas/inbound.js';
import { handleInboundEmail, receiveWebhookEvent, type EmailEvent, type InboundEmail } from '../services/inbound.js';

/** The largest raw MIME message read (providers cap inbound mail at 25–35 MB); larger is a 413. */
const MAX_MIME_BYTES = 25 * 1024 * 1024;

/**
 * mailparser's own bounds, so that no message holds the Node thread for long: no HTML or links
 * made from the text (unused), HTML-only bodies converted to text up to 256 KB, no checksums or
 * inlined images, embedded messages left as attachments, at most 100 MIME parts and 128 KB of
 * header per part. Worst cases measured are in the README ("Inbound email").
 */
export const PARSER_OPTIONS: SimpleParserOptions = {
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  keepCidLinks: true,
  checksumAlgo: false,
  maxHtmlLengthToParse: 256 * 1024,
  ignoreEmbedded: true,
  maxChildNodes: 100,
  maxHeadSize: 128 * 1024,
};

/**
 * A header as one line. mailparser splits structured ones (Content-Type) into a value and its
 * parameters: the parameters are kept, as the classification reads them (multipart/report's
 * report-type says a message is a delivery notice).
 */
function headerLine(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(headerLine).join(' ');
  if (value && typeof value === 'object' && 'value' in value) {
    const { value: main, params } = value as { value?: unknown; params?: Record<string, unknown> };
    const extra = Object.entries(params ?? {})
      .filter(([name]) => name !== 'boundary')
      .map(([name, param]) => `; ${name}="${String(param).replace(/["\\]/g, '')}"`);
    return `${String(main ?? '')}${extra.join('')}`;
  }
  return String(value ?? '');
}

/**
 * A raw MIME message as an inbound email. Its top-level header block is bounded first (see
 * boundMimeHead); a message the parser still refuses (too many parts, a part's header too large,
 * broken structure) is read from its header block alone, with a note in place of its text: a
 * reply is recorded whatever its body holds.
 */
async function parseMime(raw: Buffer, logger: Logger): Promise<InboundEmail> {
  let mail: ParsedMail;
  let note = '';
  try {
    mail = await simpleParser(boundMimeHead(raw).message, PARSER_OPTIONS);
  } catch (error) {
    logger.warn({ err: error }, 'inbound MIME body unreadable: recording its headers alone');
    mail = await simpleParser(boundMimeHead(raw, { headOnly: true }).message, PARSER_OPTIONS);
    note = `[The body of this email could not be read: ${(error as Error).message}]`;
  }
  if (!note && !mail.text && mail.textConversionError)
    note = `[The HTML of this email could not be shown as text: ${mail.textConversionError.message}]`;
  const addresses = (value: typeof mail.to) =>
    (Array.isArray(value) ? value : value ? [value] : []).flatMap((a) => a.value.map((v) => v.address ?? ''));
  const headers: Record<string, string> = {};
  // A repeated header is one list, in the message's order; Authentication-Results keeps only its
  // first (topmost: the receiving server's), as the ones below it are anyone's (boundedHeaders).
  for (const [key, value] of mail.headers)
    headers[key] = headerLine(key === 'authentication-results' && Array.isArray(value) ? value[0] : value);
  return {
    providerId: mail.messageId ?? null,
    from: mail.from?.value[0]?.address ?? '',
    to: [...addresses(mail.to), ...addresses(mail.cc)],
    subject: mail.subject ?? '',
    text: note || (mail.text ?? ''),
    headers,
  };
}

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
      new Webhook(secret).verify(payload, {
        'webhook-id': id,
        'webhook-timestamp': header('timestamp'),
        'webhook-signature': header('signature'),
      });
    } catch (error) {
      if (error instanceof WebhookVerificationError || error instanceof Error) {
        throw new ApiError(401, 'invalid_signature', `Webhook signature rejected: ${error.message}`);
      }
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      throw new ApiError(400, 'validation_error', 'The body is not JSON');
    }
    const parsed = resendEventSchema.safeParse(json);
    if (!parsed.success) throw new ApiError(400, 'validation_error', 'Not a Resend event');
    const event = parsed.data as EmailEvent;

    // Each event id is applied once, however many deliveries of it arrive at once (see the service).
    const result = await receiveWebhookEvent(inboundDeps, id, event);
    if ('duplicate' in result) {
      answer(res, 200, webhookAnswerSchema, { received: true, duplicate: true });
      return;
    }
    req.log?.info({ eventId: id, type: event.type, outcome: result.outcome }, 'webhook event');
    answer(res, 200, webhookAnswerSchema, { received: true, outcome: result.outcome });
  });

  // Raw MIME from any other inbound provider (Postmark, Mailgun, SES → HTTP). The secret is
  // checked before a byte of the body is read; a refused request's connection is closed rather
  // than drained. Then at most MAX_MIME_BYTES are read (413 beyond).
  const requireInboundSecret: RequestHandler = (req, res, next) => {
    const secret = deps.config.INBOUND_MIME_SECRET;
    if (!secret) throw new ApiError(503, 'inbound_not_configured', 'INBOUND_MIME_SECRET is not set on the server');
    const given = Buffer.from(req.get('authorization') ?? '');
    const expected = Buffer.from(`Bearer ${secret}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.set('connection', 'close');
      throw new ApiError(401, 'unauthorized', 'Wrong inbound secret');
    }
    next();
  };
  router.post('/inbound/mime', requireInboundSecret, express.raw({ type: () => true, limit: MAX_MIME_BYTES }), async (req, res) => {
    if (!Buffer.isBuffer(req.body) || req.body.length === 0)
      throw new ApiError(400, 'validation_error', 'Send the raw MIME message as the body');
    const outcome = await handleInboundEmail(inboundDeps, await parseMime(req.body, deps.logger));
    answer(res, 200, webhookAnswerSchema, { received: true, outcome });
  });

  return router;
}
