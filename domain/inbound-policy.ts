import type { InboundSender } from './inbound.js';
import { DateTime } from 'luxon';
import { MAX_RETURN_YEARS, resumeAtAfterReturn, type InboundClass } from './reply-classification.js';
import { addDelay, formatDue } from './schedule.js';

// What the service does with an inbound email once it knows what it is. Pure: the inbound
// service (api/services/inbound.ts) applies it when the email arrives and again when a user
// corrects the class.

export const INBOUND_CLASSES = [
  'reply',
  'out_of_office',
  'auto_reply',
  'unsubscribe_request',
  'bounce_notice',
  'from_other_address',
] as const satisfies readonly InboundClass[];

/** The classes of mail a machine writes: never forwarded to the user as a person's words (`is_auto_reply`). */
export const MACHINE_CLASSES: readonly InboundClass[] = ['out_of_office', 'auto_reply', 'bounce_notice'];
export const isMachineClass = (inboundClass: InboundClass): boolean => MACHINE_CLASSES.includes(inboundClass);

export const INBOUND_ACTIONS = ['on_reply', 'wait_for_return', 'unsubscribe_lead', 'record_only'] as const;
/**
 * `on_reply`: the sequence's onReply (stop, pause, continue). `wait_for_return`: the enrolment
 * pauses until the lead is back, then resumes by itself. `unsubscribe_lead`: the lead is
 * unsubscribed account-wide, as by the footer link. `record_only`: on the timeline and in a
 * notification, nothing else changes.
 */
export type InboundAction = (typeof INBOUND_ACTIONS)[number];

/**
 * Only the lead can unsubscribe the lead: a colleague's "please remove me" is a reply (it applies
 * onReply, and the user sees it). A mail daemon's notice changes nothing here: the provider's
 * bounce event, not a copy that reached the reply address, marks an address bounced (a delay
 * notice reads much like a failure).
 */
export function inboundAction(inboundClass: InboundClass, sender: InboundSender): InboundAction {
  switch (inboundClass) {
    case 'reply':
      return 'on_reply';
    case 'out_of_office':
      // A colleague's autoresponder says nothing of when the lead is back (and "the lead's
      // domain" may be a free-mail provider the sender list does not know).
      return sender === 'lead' ? 'wait_for_return' : 'record_only';
    case 'unsubscribe_request':
      return sender === 'lead' ? 'unsubscribe_lead' : 'on_reply';
    case 'auto_reply':
    case 'bounce_notice':
    case 'from_other_address':
      return 'record_only';
  }
}

/**
 * Whether an enrolment would wait for the lead's return: one that would send (active), or one
 * already waiting (a later out-of-office moves the date). An enrolment that ended, or that a
 * person (or a reply) paused, does not: for it an out-of-office is only recorded, and nothing
 * says it will resume by itself.
 */
export function waitsForReturn(enrolment: { status: string; pausedUntil: Date | null } | null | undefined): boolean {
  if (!enrolment) return false;
  return enrolment.status === 'active' || (enrolment.status === 'paused' && enrolment.pausedUntil !== null);
}

/** The action as it applies to this enrolment: an out-of-office for one that would not wait only records. */
export function actionFor(
  inboundClass: InboundClass,
  sender: InboundSender,
  enrolment: { status: string; pausedUntil: Date | null } | null | undefined,
): InboundAction {
  const action = inboundAction(inboundClass, sender);
  return action === 'wait_for_return' && !waitsForReturn(enrolment) ? 'record_only' : action;
}

/**
 * The action of a class a user gave (a correction). The user's word is the class: "this was a
 * real reply" applies onReply whoever wrote it; and a pause the email made as a reply becomes the
 * wait for the lead's return when the user says it was an out-of-office.
 */
export function correctedAction(
  correctedClass: InboundClass,
  sender: InboundSender,
  enrolment: { status: string; pausedUntil: Date | null } | null | undefined,
  replyPausedIt: boolean,
): InboundAction {
  if (correctedClass === 'reply') return 'on_reply';
  if (replyPausedIt && correctedClass === 'out_of_office') return 'wait_for_return';
  return actionFor(correctedClass, sender, enrolment);
}

/**
 * Whether a return day may be an out-of-office's: from the day the email arrived to a year later,
 * in the lead's zone (the classifier reads no day outside it; a user's correction is held to it).
 */
export function returnDayAllowed(returnDate: string, receivedAt: Date, timeZone: string): boolean {
  const received = DateTime.fromJSDate(receivedAt, { zone: timeZone }).startOf('day');
  const day = DateTime.fromISO(returnDate, { zone: timeZone });
  return day.isValid && day >= received && day <= received.plus({ years: MAX_RETURN_YEARS });
}

/** Waits after an out-of-office that names no return date, by default (a sequence setting). */
export const DEFAULT_OUT_OF_OFFICE_DAYS = 7;

/**
 * Until when an enrolment waits for a lead who is out of office: the first business day after the
 * return day the reply named, in the lead's zone; without one, `defaultDays` after it arrived.
 */
export function outOfOfficeUntil(input: { returnDate?: string | null; receivedAt: Date; timeZone: string; defaultDays: number }): Date {
  if (input.returnDate) return resumeAtAfterReturn(input.returnDate, input.timeZone);
  return addDelay(input.receivedAt, { amount: input.defaultDays, unit: 'days' }, input.timeZone);
}

/** How the product words an action for a person (timeline, notification). */
export function describeAction(action: InboundAction, until?: { at: Date; zone: string } | null): string {
  switch (action) {
    case 'on_reply':
      return "the sequence's on-reply setting applies";
    case 'wait_for_return':
      return until
        ? `the enrolment waits until ${formatDue(until.at, until.zone)}, then resumes by itself`
        : 'the enrolment waits for the lead';
    case 'unsubscribe_lead':
      return 'the lead is unsubscribed from every sequence';
    case 'record_only':
      return 'recorded; the sequence goes on as before';
  }
}
