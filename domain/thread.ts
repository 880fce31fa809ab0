import { DateTime } from 'luxon';

// Follow-ups as replies in the thread of the enrolment's previous email, as a person writing a
// follow-up would send them: `Re:` the subject the lead received, In-Reply-To the previous email's
// Message-ID, References the whole chain (RFC 5322 3.6.4), optionally the previous email quoted.

/** The enrolment's previous email, as threading needs it. */
export interface PreviousEmail {
  /** The Message-ID the lead's mailbox knows it by (the provider's, else ours). */
  messageId: string;
  subject: string;
  /** The subject of its thread (its own for the email that began it); null for emails from before threads. */
  threadSubject: string | null;
  /** The Message-IDs before it in its thread, oldest first. */
  references: string[];
  sentAt: Date;
  /** Its body as text (without signature or footer); null for emails from before threads. */
  bodyText: string | null;
  /** Who it was from, as its From line said (`"Ann Rep" <ann@acme.test>`). */
  from: string;
}

export interface ThreadReply {
  subject: string;
  threadSubject: string;
  references: string[];
  headers: { 'In-Reply-To': string; References: string };
}

/** A step goes in the thread when it says so; without a choice, every step after the first does. */
export const goesInThread = (step: { inThread: boolean | null }, position: number) => step.inThread ?? position > 1;

/**
 * `<local@domain>` without white space or brackets inside, at most 250 characters: anything else
 * is not put in a header.
 */
const MESSAGE_ID = /^<[^<>\s@]{1,200}@[^<>\s@]{1,200}>$/;
export const isMessageId = (value: unknown): value is string => typeof value === 'string' && value.length <= 250 && MESSAGE_ID.test(value);

/** What a provider reports as a Message-ID, with its angle brackets (some report it without), or null. */
export function normaliseMessageId(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  const bracketed = trimmed.startsWith('<') ? trimmed : `<${trimmed}>`;
  return isMessageId(bracketed) ? bracketed : null;
}

/**
 * References grow by one a step; RFC 5322 lets a long chain drop its middle: the first id (the
 * thread's start) and the latest are what clients thread on. At most 20 ids and 900 characters,
 * so the header stays within the 998 a line may have.
 */
const MAX_REFERENCES = 20;
const MAX_REFERENCES_LENGTH = 900;

/** Whether a subject already is a reply's (`Re:`, `RE :`, `Aw:`, `Sv:` and the like are kept as they are). */
const REPLY_PREFIX = /^\s*(re|aw|sv|vs|antw|wg)\s*:/i;

/** The reply to the previous email: its thread's subject after `Re:`, and the headers that chain it. */
export function threadReply(previous: PreviousEmail): ThreadReply {
  const threadSubject = previous.threadSubject ?? previous.subject;
  const chain = [...previous.references.filter(isMessageId), previous.messageId];
  const references = chain.length > MAX_REFERENCES ? [chain[0]!, ...chain.slice(-(MAX_REFERENCES - 1))] : chain;
  while (references.length > 2 && references.join(' ').length > MAX_REFERENCES_LENGTH) references.splice(1, 1);
  return {
    subject: REPLY_PREFIX.test(threadSubject) ? threadSubject : `Re: ${threadSubject}`,
    threadSubject,
    references,
    headers: { 'In-Reply-To': previous.messageId, References: references.join(' ') },
  };
}

/** The previous email below a reply, introduced as mail clients introduce it, in the lead's zone. */
export function quoteOf(previous: PreviousEmail, zone: string): { intro: string; text: string } | null {
  if (!previous.bodyText) return null;
  const when = DateTime.fromJSDate(previous.sentAt, { zone }).setLocale('en-GB').toFormat("ccc, d LLL yyyy 'at' HH:mm");
  return { intro: `On ${when}, ${previous.from} wrote:`, text: previous.bodyText };
}
