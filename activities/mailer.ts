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
  /**
   * Hands one email to the provider and returns its id. Retrying with the same idempotency key
   * never sends twice. Throws `SendPostponed` (quota: try later, do not fail),
   * `SendRejected` (permanent) or anything else (transient: retry).
   */
  send(email: OutgoingEmail): Promise<{ providerId: string }>;
  /**
   * The Message-ID the email went out with, as the provider reports it (it may replace ours), or
   * null when it does not say (yet). Threads chain on it: it is what the lead's mailbox knows.
   */
  messageIdOf?(providerId: string): Promise<string | null>;
}

/** The provider's quota is used up: the email waits until `until`; it is never dropped. */
export class SendPostponed extends Error {
  constructor(
    readonly until: Date,
    reason: string,
  ) {
    super(reason);
  }
}

/** The provider will never accept this email (bad address, unverified domain, invalid payload). */
export class SendRejected extends Error {}

/** A transient failure with the provider's own advice on when to retry. */
export class SendRetryLater extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * No RESEND_API_KEY: nothing leaves the machine. The message row in PostgreSQL is the outbox
 * (GET /v1/outbox); a log line says where it would have gone.
 */
export function createOutboxMailer(logger: Logger): Mailer {
  return {
    async send(email) {
      logger.info({ to: email.to, subject: email.subject, idempotencyKey: email.idempotencyKey }, 'email kept in the local outbox');
      return { providerId: `outbox-${email.idempotencyKey}` };
    },
  };
}
