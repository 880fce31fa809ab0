// The circuit breaker on bounces and complaints. One tenant with a bad list can hurt the sending
// reputation of every account on the same provider account, and Gmail and Outlook.com reject
// bulk mail whose complaint rate stays high: a sequence whose recent emails bounce or draw
// complaints over the thresholds pauses itself, as Woodpecker and Instantly do. Pure rules here;
// api/services/deliverability.ts counts and acts.

/** An account's thresholds (Gmail's guidance for complaints; 3 % hard bounces is the common cold-email ceiling). */
export interface DeliverabilitySettings {
  /** How far back "recent" reaches: emails sent in the last N days, and what became of them. */
  windowDays: number;
  /** Fewer emails than this say nothing yet: two bounces of the first three are bad luck, not a bad list. */
  minSent: number;
  /**
   * Fewer hard bounces, or fewer complaints, than this say nothing either: one recipient (who may
   * be hostile, and complain on purpose) never pauses a tenant's sending.
   */
  minEvents: number;
  maxHardBounceRate: number;
  maxComplaintRate: number;
  /** After a person resumes a tripped sequence, how long the breaker lets it be unless the rate doubles. */
  graceDays: number;
}

export const DEFAULT_DELIVERABILITY: DeliverabilitySettings = {
  windowDays: 7,
  minSent: 20,
  minEvents: 2,
  maxHardBounceRate: 0.03,
  maxComplaintRate: 0.001,
  graceDays: 7,
};

export const PROTECTION_CAUSES = ['bounce_protection', 'complaint_protection'] as const;
export type ProtectionCause = (typeof PROTECTION_CAUSES)[number];
/**
 * Whose emails a rate counts: one sequence's (its trip pauses the sequence), one sender's (their
 * enrolments pause, in every sequence), or the whole account's (every sequence pauses).
 */
export type ProtectionScope = 'sequence' | 'sender' | 'account';

/** What recent emails of a scope became. */
export interface SendingRecord {
  sent: number;
  hardBounces: number;
  complaints: number;
}

export interface ProtectionVerdict {
  cause: ProtectionCause;
  scope: ProtectionScope;
  sent: number;
  /** Hard bounces or complaints, as the cause says. */
  count: number;
  rate: number;
  threshold: number;
  windowDays: number;
}

/** A trip as its sequence keeps it: why it paused, and whether a person resumed it since. */
export interface ProtectionTrip extends ProtectionVerdict {
  trippedAt: string;
  resumedAt: string | null;
}

/** Whether a scope's recent emails are over a threshold (complaints first: they cost the most reputation). */
export function protectionVerdict(
  record: SendingRecord,
  scope: ProtectionScope,
  settings: DeliverabilitySettings,
): ProtectionVerdict | null {
  if (record.sent < settings.minSent || record.sent === 0) return null;
  const minEvents = settings.minEvents;
  const base = { scope, sent: record.sent, windowDays: settings.windowDays };
  const complaintRate = record.complaints / record.sent;
  if (record.complaints >= Math.max(1, minEvents) && complaintRate >= settings.maxComplaintRate) {
    return { ...base, cause: 'complaint_protection', count: record.complaints, rate: complaintRate, threshold: settings.maxComplaintRate };
  }
  const bounceRate = record.hardBounces / record.sent;
  if (record.hardBounces >= Math.max(1, minEvents) && bounceRate >= settings.maxHardBounceRate) {
    return { ...base, cause: 'bounce_protection', count: record.hardBounces, rate: bounceRate, threshold: settings.maxHardBounceRate };
  }
  return null;
}

/**
 * Whether a verdict pauses a sequence now, given its last trip. One tripped and not resumed is
 * already paused; one a person resumed is let be for the grace period, unless the rate of the same
 * cause has doubled since the trip (a list that keeps getting worse).
 */
export function trips(verdict: ProtectionVerdict, last: ProtectionTrip | null, now: Date, settings: DeliverabilitySettings): boolean {
  if (!last) return true;
  if (!last.resumedAt) return false;
  const graceEnds = Date.parse(last.resumedAt) + settings.graceDays * 86_400_000;
  if (now.getTime() >= graceEnds) return true;
  return verdict.cause === last.cause ? verdict.rate >= 2 * last.rate : true;
}

/** A tripped breaker that no person has resumed: the sequence is paused by it. */
export const activeTrip = (trip: ProtectionTrip | null | undefined): ProtectionTrip | null => (trip && !trip.resumedAt ? trip : null);

const percent = (rate: number) => `${Number((rate * 100).toPrecision(3))} %`;

/** The words a tripped breaker pauses with: the timeline, the Temporal UI and the portal read them. */
export function protectionReason(v: ProtectionVerdict): string {
  const what = v.cause === 'bounce_protection' ? 'hard-bounced' : 'drew spam complaints';
  const whose = v.scope === 'account' ? "of the account's emails" : v.scope === 'sender' ? "of the sender's emails" : 'of its emails';
  const label = v.cause === 'bounce_protection' ? 'bounce protection' : 'complaint protection';
  return `${label}: ${v.count} of ${v.sent} ${whose} ${what} (${percent(v.rate)}) in the last ${v.windowDays} days, over the ${percent(v.threshold)} threshold`;
}

/** Which breaker a pause's reason names, if one does (the words protectionReason writes). */
export function protectionCauseOf(reason: string | null): ProtectionCause | null {
  if (reason?.startsWith('bounce protection: ')) return 'bounce_protection';
  if (reason?.startsWith('complaint protection: ')) return 'complaint_protection';
  return null;
}
