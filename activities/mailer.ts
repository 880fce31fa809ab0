import type { Logger } from '../logger.js';

export interface OutgoingEmail {
  idempotencyKey: string;
  from: string;
  to: string;
  replyTo?: string;
  subject: string;
  html: string;
  text: string;
  headers?: Record<string, string>;
  tags?: { name: string; value: string }[];
}

export interface Mailer {
  /** Returns the provider's message id. Throws on failure; a retry reuses the same key. */
  send(email: OutgoingEmail): Promise<{ providerId: string }>;
}

/**
 * No RESEND_API_KEY: nothing leaves the machine. The message row in PostgreSQL is the outbox
 * (listed through the API); a log line says where it would have gone.
 */
export function createOutboxMailer(logger: Logger): Mailer {
  return {
    async send(email) {
      logger.info({ to: email.to, subject: email.subject, idempotencyKey: email.idempotencyKey }, 'email kept in the local outbox');
      return { providerId: `outbox-${email.idempotencyKey}` };
    },
  };
}
