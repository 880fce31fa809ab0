import { Resend } from 'resend';
import type { Logger } from '../logger.js';
import { normaliseMessageId } from '../domain/thread.js';
import { SendPostponed, SendRejected, SendRetryLater, type Mailer } from './mailer.js';

/** Resend's answers, sorted by what we do about them. */
const RETRYABLE_NAMES = new Set(['rate_limit_exceeded', 'concurrent_idempotent_requests', 'application_error', 'internal_server_error']);
const QUOTA_NAMES = new Set(['daily_quota_exceeded', 'monthly_quota_exceeded']);

function retryAfterMs(headers: Record<string, string> | null): number | undefined {
  const value = headers?.['retry-after'] ?? headers?.['ratelimit-reset'];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function quotaResumesAt(name: string, now = new Date()): Date {
  // Resend's quotas reset at midnight UTC (daily) and on the first of the month (monthly).
  if (name === 'monthly_quota_exceeded') return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

export function createResendMailer(options: { apiKey: string; baseUrl?: string; logger: Logger }): Mailer {
  const resend = new Resend(options.apiKey, options.baseUrl ? { baseUrl: options.baseUrl } : undefined);
  return {
    async send(email) {
      const { data, error, headers } = await resend.emails.send(
        {
          from: email.from,
          to: email.to,
          replyTo: email.replyTo,
          subject: email.subject,
          html: email.html,
          text: email.text,
          headers: email.headers,
          tags: email.tags,
        },
        { idempotencyKey: email.idempotencyKey },
      );
      if (data) return { providerId: data.id };
      const name = error?.name ?? 'application_error';
      const status = (error as { statusCode?: number | null } | null)?.statusCode ?? null;
      const message = `${name}${status ? ` (${status})` : ''}: ${error?.message ?? 'no answer'}`;
      options.logger.warn({ idempotencyKey: email.idempotencyKey, name, status }, 'Resend refused an email');
      if (QUOTA_NAMES.has(name)) throw new SendPostponed(quotaResumesAt(name), message);
      // No status: the request may or may not have arrived. Retrying with the same key is safe.
      if (status === null || status >= 500 || status === 429 || RETRYABLE_NAMES.has(name)) {
        throw new SendRetryLater(message, retryAfterMs(headers));
      }
      throw new SendRejected(message);
    },
    async messageIdOf(providerId) {
      // Resend sends through Amazon SES, which replaces a Message-ID it is given; `emails.get`
      // reports the one that went (`message_id`, resend-node #988). Only an answer that does not
      // name one is "not known"; a failure to answer is retried, so a busy provider never makes a
      // follow-up thread on an id the lead's mailbox does not know.
      const { data, error, headers } = await resend.emails.get(providerId);
      if (data) return normaliseMessageId((data as { message_id?: unknown }).message_id);
      const status = (error as { statusCode?: number | null } | null)?.statusCode ?? null;
      if (status === 404) return null;
      throw new SendRetryLater(`looking up the Message-ID of ${providerId}: ${error?.name ?? 'no answer'}`, retryAfterMs(headers));
    },
  };
}
