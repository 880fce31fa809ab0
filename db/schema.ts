import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/**
 * The whole domain model. Every row that belongs to a customer carries `account_id`, and every
 * query filters on it: one account can never read or change another's data.
 */

const id = () => uuid('id').primaryKey().defaultRandom();
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
const accountId = () =>
  uuid('account_id')
    .notNull()
    .references(() => accounts.id, { onDelete: 'cascade' });

import type { Closure, DayOff } from '../domain/holidays.js';
import type { DeliverabilitySettings, ProtectionTrip } from '../domain/deliverability.js';
import type { EnrolmentStatus } from '../domain/enrolment-status.js';
// The statuses, and which of them are live, are a product rule: domain/enrolment-status.ts.
import type { InboundAction } from '../domain/inbound-policy.js';
import type { ClassificationEvidence, InboundClass } from '../domain/reply-classification.js';
export { ENROLMENT_STATUSES, LIVE_ENROLMENT_STATUSES, type EnrolmentStatus } from '../domain/enrolment-status.js';

/**
 * Every `type` an enrolment_events row is written with (activities/, api/services/): the
 * timeline the API answers (GET /v1/enrolments/{id}) states these as an enum.
 */
export const ENROLMENT_EVENT_TYPES = [
  'enrolled',
  'status_changed',
  'email_sent',
  'email_delivered',
  'email_delayed',
  'email_clicked',
  'email_bounced',
  'email_soft_bounced',
  'email_suppressed',
  'email_complained',
  'email_failed',
  'reply',
  'auto_reply',
  'reply_from_other_address',
  'out_of_office',
  'unsubscribe_request',
  'bounce_notice',
  'classification_corrected',
  'lead_event',
  'sender_changed',
  'unsubscribe',
  'bounce',
] as const;
export type EnrolmentEventType = (typeof ENROLMENT_EVENT_TYPES)[number];

export type SequenceStatus = 'active' | 'paused' | 'archived';
/**
 * An email's way out: stored as `sending` before the provider is called (the exactly-once guard),
 * `sent` when it accepted, then `delivered` or `bounced` from its webhooks, or `failed`.
 * `queued` is the column's default, which no writer leaves.
 */
export const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'bounced', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
/**
 * What a notification tells the user about: an inbound email by its class (a plain auto-reply
 * notifies no one), a variant of an experiment a guardrail stopped, or a sequence the bounce and
 * complaint breaker paused.
 */
export const NOTIFICATION_TYPES = [
  'reply',
  'reply_from_other_address',
  'out_of_office',
  'unsubscribe_request',
  'bounce_notice',
  'experiment_variant_stopped',
  'sequence_protection_paused',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** How a user judged a reply: what an experiment counts as a positive reply. */
export const REPLY_SENTIMENTS = ['positive', 'neutral', 'negative'] as const;
export type ReplySentiment = (typeof REPLY_SENTIMENTS)[number];

export const EMAIL_FORMATS = ['branded', 'plain'] as const;
export type EmailFormat = (typeof EMAIL_FORMATS)[number];

export const DELAY_UNITS = ['minutes', 'hours', 'days', 'business_days'] as const;
export type DelayUnit = (typeof DELAY_UNITS)[number];

export const ON_REPLY_ACTIONS = ['stop', 'pause', 'continue'] as const;
export type OnReplyAction = (typeof ON_REPLY_ACTIONS)[number];
/** What a reply from one lead does to the live enrolments of the lead's colleagues (same company). */
export const ON_COLLEAGUE_REPLY_ACTIONS = ['nothing', 'pause', 'stop'] as const;
export type OnColleagueReplyAction = (typeof ON_COLLEAGUE_REPLY_ACTIONS)[number];
/** Where those colleagues' enrolments are looked for: this sequence, or every sequence of the account. */
export const COLLEAGUE_SCOPES = ['sequence', 'account'] as const;
export type ColleagueScope = (typeof COLLEAGUE_SCOPES)[number];
/** The portal's own events about a lead (POST /v1/leads/:id/events); a sequence says which stop or pause it. */
export const LEAD_EVENT_NAMES = ['meeting_booked', 'deal_won', 'deal_lost', 'do_not_contact'] as const;
export interface LeadEventRules {
  stop: string[];
  pause: string[];
}

/** Days are ISO weekdays (1 = Monday … 7 = Sunday); times are "HH:MM" in the lead's zone. */
export interface SendWindow {
  days: number[];
  start: string;
  end: string;
}

/** Who or what paused an enrolment, for its `waitingFor` (domain/waiting-for.ts reads it from the reason). */
export type PausedBy = 'user' | 'sequence' | 'sender_retired' | 'reply' | 'colleague_reply' | 'lead_event';

/**
 * Why a live enrolment's next email has not gone yet, machine-readable: the answer to "why hasn't
 * it sent?". Written where the wait is decided (the plan, a cap at the send, a pause recorded);
 * the API hides a wait whose `until` has passed (the email is on its way).
 */
export type WaitingFor =
  | { cause: 'delay'; until: string }
  | { cause: 'send_window'; until: string }
  | { cause: 'holiday'; until: string; holiday: DayOff }
  | { cause: 'daily_cap'; scope: 'account' | 'sender'; senderId?: string; cap: number; until: string }
  | { cause: 'domain_cap'; domain: string; cap: number; until: string; queue: string }
  | { cause: 'new_leads_cap'; cap: number; until: string; queue: string }
  | { cause: 'provider_quota'; until: string }
  | { cause: 'out_of_office'; until: string }
  | { cause: 'paused'; by: PausedBy; reason: string | null }
  | { cause: 'bounce_protection'; reason: string }
  | { cause: 'complaint_protection'; reason: string };

export type WaitingCause = WaitingFor['cause'];

export interface PlanLimits {
  maxSequences: number | null;
  maxStepsPerSequence: number | null;
  maxActiveEnrolments: number | null;
  maxEmailsPerDay: number | null;
}

export const accounts = pgTable('accounts', {
  id: id(),
  name: text('name').notNull(),
  timezone: text('timezone').notNull().default('UTC'),
  /** Whose public holidays its leads without a country of their own get (domain/holidays.ts): "FR", "DE-BY"; null: none. */
  country: text('country'),
  /** The account's own days off (company closures): no business day counts and no send window opens on them. */
  closures: jsonb('closures').$type<Closure[]>().notNull().default([]),
  /** The bounce and complaint breaker's thresholds (domain/deliverability.ts; null: the defaults). */
  deliverability: jsonb('deliverability').$type<DeliverabilitySettings | null>(),
  /**
   * At most this many emails a day to one recipient domain (a free-mail address counts on its
   * own): receiving servers throttle a sender that floods them. Null: no cap.
   */
  recipientDomainDailyCap: integer('recipient_domain_daily_cap'),
  allowParallelEnrolment: boolean('allow_parallel_enrolment').notNull().default(false),
  plan: text('plan').notNull().default('standard'),
  limits: jsonb('limits')
    .$type<PlanLimits>()
    .notNull()
    .default({ maxSequences: null, maxStepsPerSequence: null, maxActiveEnrolments: null, maxEmailsPerDay: null }),
  /**
   * The sender (senders) a sequence without its own sends as, and the one one-off emails and
   * replies to them use. Null: no sender yet, emails show the account's name at the platform address.
   */
  defaultSenderId: uuid('default_sender_id'),
  /**
   * The account's one sender from before there were senders: migration 0008 copied them into its
   * first sender row. Read and written by nothing now; kept one release, so that processes of the
   * previous release still running during a deploy can read accounts, then dropped (expand, then contract).
   */
  legacySenderName: text('sender_name').notNull().default(''),
  legacySenderEmail: text('sender_email'),
  legacySenderEmailConfirmedAt: timestamp('sender_email_confirmed_at', { withTimezone: true }),
  legacySignature: text('signature').notNull().default(''),
  // Branding: what a lead sees.
  companyName: text('company_name').notNull().default(''),
  postalAddress: text('postal_address').notNull().default(''),
  logoUrl: text('logo_url'),
  brandColor: text('brand_color').notNull().default('#2563eb'),
  sendingDomain: text('sending_domain'),
  sendingDomainId: text('sending_domain_id'),
  sendingDomainVerifiedAt: timestamp('sending_domain_verified_at', { withTimezone: true }),
  // Outbound notifications to the portal.
  portalWebhookUrl: text('portal_webhook_url'),
  portalWebhookSecret: text('portal_webhook_secret'),
  /** After a rotation the old secret also signs, until `portalWebhookPreviousSecretExpiresAt`. */
  portalWebhookPreviousSecret: text('portal_webhook_previous_secret'),
  portalWebhookPreviousSecretExpiresAt: timestamp('portal_webhook_previous_secret_expires_at', { withTimezone: true }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Keys are shown once; only a SHA-256 of the secret part is kept. The prefix finds the row. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    accountId: accountId(),
    name: text('name').notNull().default('default'),
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_prefix_idx').on(t.prefix), index('api_keys_account_idx').on(t.accountId)],
);

/**
 * A person (a rep) emails go out as: the From line's name and address, the signature, a daily cap
 * of their own. Replies to their emails are forwarded to their mailbox, and test copies go there,
 * only once they proved they read it (a signed link sent there was confirmed). Retired, never
 * deleted: sent messages and ended enrolments keep pointing at them.
 */
export const senders = pgTable(
  'senders',
  {
    id: id(),
    accountId: accountId(),
    name: text('name').notNull().default(''),
    /** The sender's own mailbox; null only for a sender migrated from an account that had a name but no address. */
    email: text('email'),
    /** Set when the sender proved they read `email`; cleared when it changes. */
    emailConfirmedAt: timestamp('email_confirmed_at', { withTimezone: true }),
    signature: text('signature').notNull().default(''),
    /** The zone their daily cap's day is counted in; null: the account's. */
    timezone: text('timezone'),
    /** At most this many emails a day from this sender (the account's cap also applies); null: no cap of their own. */
    dailyCap: integer('daily_cap'),
    /** The breaker's last trip on this sender's own emails (domain/deliverability.ts): null if it never tripped. */
    protection: jsonb('protection').$type<ProtectionTrip | null>(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('senders_account_idx').on(t.accountId, t.createdAt),
    // Two live senders of one account never share a mailbox: a reply's forward has one owner.
    uniqueIndex('senders_account_email_idx')
      .on(t.accountId, sql`lower(${t.email})`)
      .where(sql`retired_at is null and email is not null`),
  ],
);

export const sequences = pgTable(
  'sequences',
  {
    id: id(),
    accountId: accountId(),
    name: text('name').notNull(),
    status: text('status').$type<SequenceStatus>().notNull().default('active'),
    onReply: text('on_reply').$type<OnReplyAction>().notNull().default('stop'),
    onColleagueReply: text('on_colleague_reply').$type<OnColleagueReplyAction>().notNull().default('nothing'),
    colleagueScope: text('colleague_scope').$type<ColleagueScope>().notNull().default('sequence'),
    /** Which portal events about a lead stop or pause its enrolments in this sequence (HubSpot and lemlist stop on a booked meeting). */
    leadEventRules: jsonb('lead_event_rules')
      .$type<LeadEventRules>()
      .notNull()
      .default({ stop: ['meeting_booked', 'deal_won', 'deal_lost'], pause: [] }),
    sendWindow: jsonb('send_window').$type<SendWindow | null>(),
    /** Business-day delays and the send window skip the lead's public holidays and the account's closures. */
    skipHolidays: boolean('skip_holidays').notNull().default(true),
    /** The breaker's last trip (why it paused, whether a person resumed it since): null if it never tripped. */
    protection: jsonb('protection').$type<ProtectionTrip | null>(),
    /** At most this many first emails (new leads started) a day; follow-ups are never held by it. Null: no cap. */
    newLeadsPerDay: integer('new_leads_per_day'),
    /** How long an enrolment waits after an out-of-office reply that names no return date. */
    outOfOfficeDays: integer('out_of_office_days').notNull().default(7),
    /**
     * The share of enrolments (0–50 %) kept as an experiment's holdout: they get step 1 and no
     * follow-up, so the user sees what the follow-ups add. Decided once per enrolment, at its first plan.
     */
    holdoutPercent: integer('holdout_percent').notNull().default(0),
    /** `branded` (the MJML layout) or `plain` (a personal note: text, a minimal HTML twin, no images). */
    format: text('format').$type<EmailFormat>().notNull().default('branded'),
    /** Who its emails come from unless an enrolment names another; null: the account's default sender. */
    senderId: uuid('sender_id').references(() => senders.id),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
  },
  (t) => [index('sequences_account_idx').on(t.accountId, t.createdAt)],
);

/** Deleted steps are kept (soft delete) because sent messages point at them. */
export const steps = pgTable(
  'steps',
  {
    id: id(),
    accountId: accountId(),
    sequenceId: uuid('sequence_id')
      .notNull()
      .references(() => sequences.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    delayAmount: integer('delay_amount').notNull().default(0),
    delayUnit: text('delay_unit').$type<DelayUnit>().notNull().default('days'),
    /** The variant a user declared the winner of this step's experiment: every unsent email goes as it. */
    winnerVariantId: uuid('winner_variant_id'),
    /**
     * Sent as a reply in the thread of the enrolment's previous email (`Re:` its subject,
     * In-Reply-To and References) or as a new email; null: by position (every step after the first
     * in the thread), so a reorder keeps the rule.
     */
    inThread: boolean('in_thread'),
    /** A reply in the thread quotes the previous email below, as mail clients do. */
    quotePrevious: boolean('quote_previous').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [index('steps_sequence_idx').on(t.sequenceId, t.position)],
);

/**
 * What a variant is in an experiment: `active` (assigned to enrolments), `stopped` by a guardrail,
 * `removed` by a user, `lost` to the declared winner, or `winner`. Only active and winner variants
 * are assigned; every variant is kept, with its emails, so the experiment's record stays.
 */
export const VARIANT_STATUSES = ['active', 'stopped', 'removed', 'lost', 'winner'] as const;
export type VariantStatus = (typeof VARIANT_STATUSES)[number];

/**
 * A version of a step's subject and body. A step with variants sends each enrolment the variant it
 * was assigned (variant_assignments); a step without sends its own subject and body.
 */
export const stepVariants = pgTable(
  'step_variants',
  {
    id: id(),
    accountId: accountId(),
    stepId: uuid('step_id')
      .notNull()
      .references(() => steps.id, { onDelete: 'cascade' }),
    /** A, B, C…: given in order of creation, never reused within the step. */
    label: text('label').notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    /** Relative share of the step's new assignments (1–100). */
    weight: integer('weight').notNull().default(1),
    status: text('status').$type<VariantStatus>().notNull().default('active'),
    /** Why it stopped being assigned (a guardrail's words, a user's removal, the winner). */
    endedReason: text('ended_reason'),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('step_variants_step_label_idx').on(t.stepId, t.label)],
);

export const leads = pgTable(
  'leads',
  {
    id: id(),
    accountId: accountId(),
    email: text('email'),
    firstName: text('first_name').notNull().default(''),
    lastName: text('last_name').notNull().default(''),
    company: text('company').notNull().default(''),
    title: text('title').notNull().default(''),
    phone: text('phone').notNull().default(''),
    timezone: text('timezone'),
    /** Whose public holidays the lead keeps ("GB", "US-CA"); null: the account's country. */
    country: text('country'),
    customFields: jsonb('custom_fields').$type<Record<string, string>>().notNull().default({}),
    /** The portal's id for the lead's company, when it sets one: it decides who the lead's colleagues are. */
    companyId: text('company_id'),
    /**
     * Who the lead's colleagues are (domain/company.ts): `id:<companyId>`, else `domain:<registrable
     * email domain>`, null for a free-mail address or no email. Written with every change of either.
     */
    companyKey: text('company_key'),
    unsubscribedAt: timestamp('unsubscribed_at', { withTimezone: true }),
    bouncedAt: timestamp('bounced_at', { withTimezone: true }),
    /** The portal said never to contact this lead (do_not_contact): suppressed account-wide. */
    doNotContactAt: timestamp('do_not_contact_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('leads_account_email_idx').on(t.accountId, t.email),
    index('leads_account_created_idx').on(t.accountId, t.createdAt),
    index('leads_account_company_idx').on(t.accountId, t.companyKey),
  ],
);

/** What the portal told us about a lead (a meeting booked, a deal won…), once per event key. */
export const leadEvents = pgTable(
  'lead_events',
  {
    id: id(),
    accountId: accountId(),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The portal's id of the event: the same key again is the same event (a retried request). */
    eventKey: text('event_key').notNull(),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('lead_events_account_key_idx').on(t.accountId, t.eventKey), index('lead_events_lead_idx').on(t.leadId)],
);

export const enrolments = pgTable(
  'enrolments',
  {
    id: id(),
    accountId: accountId(),
    sequenceId: uuid('sequence_id')
      .notNull()
      .references(() => sequences.id, { onDelete: 'cascade' }),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id, { onDelete: 'cascade' }),
    status: text('status').$type<EnrolmentStatus>().notNull().default('active'),
    /** Reply address token: `r-<token>@INBOUND_DOMAIN` routes a reply back to this enrolment. */
    replyToken: text('reply_token').notNull(),
    lastStepId: uuid('last_step_id'),
    lastSentAt: timestamp('last_sent_at', { withTimezone: true }),
    nextStepId: uuid('next_step_id'),
    nextDueAt: timestamp('next_due_at', { withTimezone: true }),
    endedReason: text('ended_reason'),
    repliedAt: timestamp('replied_at', { withTimezone: true }),
    resumedAt: timestamp('resumed_at', { withTimezone: true }),
    /** Paused until then, waiting for the lead's return from an out-of-office; null for any other pause. */
    pausedUntil: timestamp('paused_until', { withTimezone: true }),
    workflowStartedAt: timestamp('workflow_started_at', { withTimezone: true }),
    /** In the sequence's holdout (no follow-up after step 1); null until its first plan decided it. */
    holdout: boolean('holdout'),
    /**
     * Who every email of this enrolment comes from: bound when the lead is enrolled (the request's,
     * else the sequence's, else the account's default), never changed by a later default; moved
     * only when the sender is retired with a sender to move to. Null: the account had no sender.
     */
    senderId: uuid('sender_id').references(() => senders.id),
    /** What a postponed email waits for (a daily cap), until it goes or is planned again. */
    waitingFor: jsonb('waiting_for').$type<WaitingFor | null>(),
    batchId: uuid('batch_id'),
    enrolledAt: timestamp('enrolled_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    updatedAt: updatedAt(),
  },
  (t) => [
    // At most one live enrolment of a lead in a sequence, enforced by the database itself.
    uniqueIndex('enrolments_live_idx')
      .on(t.sequenceId, t.leadId)
      .where(sql`status in ('active', 'paused')`),
    uniqueIndex('enrolments_reply_token_idx').on(t.replyToken),
    index('enrolments_sequence_status_idx').on(t.sequenceId, t.status, t.enrolledAt),
    // A sequence's enrolment list, newest first, page by page (keyset on enrolled_at, id).
    index('enrolments_sequence_enrolled_idx').on(t.sequenceId, t.enrolledAt, t.id),
    index('enrolments_lead_idx').on(t.leadId, t.status),
    index('enrolments_sender_idx')
      .on(t.senderId, t.status)
      .where(sql`sender_id is not null`),
    index('enrolments_unstarted_idx')
      .on(t.enrolledAt)
      .where(sql`workflow_started_at is null`),
    // The emails waiting in one cap's queue (a recipient domain, a sequence's new leads), in order.
    index('enrolments_cap_queue_idx')
      .on(t.accountId, sql`(waiting_for->>'queue')`)
      .where(sql`(waiting_for->>'queue') is not null`),
  ],
);

/**
 * How many enrolments of a sequence are in each status, kept by statement-level triggers on
 * enrolments (migration 0011, `count_sequence_enrolments`) in the same transaction as every
 * insert, status change and delete. So the first page of a sequence's enrolments reads its counts
 * in its own snapshot without counting 10,000 rows per request. Written only by the triggers.
 * No foreign key: a sequence deleted with its enrolments leaves its rows at zero, which no
 * request reads (and the trigger's upsert never races its cascade).
 */
export const sequenceEnrolmentCounts = pgTable(
  'sequence_enrolment_counts',
  {
    sequenceId: uuid('sequence_id').notNull(),
    status: text('status').$type<EnrolmentStatus>().notNull(),
    enrolments: integer('enrolments').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sequenceId, t.status] })],
);

/** The timeline of an enrolment: status changes, emails sent, replies, signals. */
export const enrolmentEvents = pgTable(
  'enrolment_events',
  {
    id: id(),
    accountId: accountId(),
    enrolmentId: uuid('enrolment_id')
      .notNull()
      .references(() => enrolments.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [index('enrolment_events_enrolment_idx').on(t.enrolmentId, t.createdAt)],
);

/**
 * Which variant of a step an enrolment gets: written when the step is first planned for it (a hash
 * of enrolment and step, weighed, so a replay or a retry chooses the same), moved only while its
 * email is unsent (the variant removed, stopped or beaten).
 */
export const variantAssignments = pgTable(
  'variant_assignments',
  {
    accountId: accountId(),
    enrolmentId: uuid('enrolment_id')
      .notNull()
      .references(() => enrolments.id, { onDelete: 'cascade' }),
    stepId: uuid('step_id')
      .notNull()
      .references(() => steps.id, { onDelete: 'cascade' }),
    variantId: uuid('variant_id')
      .notNull()
      .references(() => stepVariants.id, { onDelete: 'cascade' }),
    assignedAt: timestamp('assigned_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set when an unsent assignment was moved to another variant. */
    movedAt: timestamp('moved_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.enrolmentId, t.stepId] }), index('variant_assignments_variant_idx').on(t.variantId)],
);

/** A bulk enrolment request, kept so a retried request answers the same result. */
export const enrolmentBatches = pgTable(
  'enrolment_batches',
  {
    id: id(),
    accountId: accountId(),
    sequenceId: uuid('sequence_id')
      .notNull()
      .references(() => sequences.id, { onDelete: 'cascade' }),
    idempotencyKey: text('idempotency_key'),
    /** SHA-256 of the request the key was first used with: the same key with another body is refused. */
    requestHash: text('request_hash'),
    /** Null while the first request with this key is still being handled. */
    results: jsonb('results').$type<unknown>(),
    /**
     * While a request is starting this batch's workflows: when it last recorded progress. The
     * pending-start sweeper leaves the batch's rows to it until this is older than the sweeper's
     * grace; null once the request is done (or before there was such a column).
     */
    startsProgressedAt: timestamp('starts_progressed_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('enrolment_batches_key_idx').on(t.accountId, t.idempotencyKey)],
);

/** Every email, stored as rendered before it is handed to the provider. */
export const messages = pgTable(
  'messages',
  {
    id: id(),
    accountId: accountId(),
    enrolmentId: uuid('enrolment_id').references(() => enrolments.id, { onDelete: 'cascade' }),
    stepId: uuid('step_id'),
    /** The step's variant this email went as, when the step had variants. */
    variantId: uuid('variant_id'),
    /** Who it went as: their daily cap counts it, and a sender it names is never deleted. */
    senderId: uuid('sender_id').references(() => senders.id),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id, { onDelete: 'cascade' }),
    /** enrolment + step (or one-off id): the unique guard that makes a send happen once. */
    idempotencyKey: text('idempotency_key').notNull(),
    toEmail: text('to_email').notNull(),
    fromEmail: text('from_email').notNull(),
    replyTo: text('reply_to'),
    subject: text('subject').notNull(),
    html: text('html').notNull(),
    text: text('text').notNull(),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    /**
     * The Message-ID the lead's mailbox knows it by: the provider's, which replaces ours (Resend
     * sends through SES, which overrides a Message-ID), once it reports it; null until then.
     */
    rfcMessageId: text('rfc_message_id'),
    /** The subject of the thread it is in (its own, for an email that starts one): what a reply says after `Re:`. */
    threadSubject: text('thread_subject'),
    /** The Message-IDs of the thread before it, oldest first (its References header). */
    threadReferences: jsonb('thread_references').$type<string[]>().notNull().default([]),
    /** The body as text, without signature or footer: what a later reply quotes. */
    bodyText: text('body_text'),
    tags: jsonb('tags').$type<{ name: string; value: string }[]>().notNull().default([]),
    /** One-off emails route replies through their own token; sequence emails use the enrolment's. */
    replyToken: text('reply_token'),
    status: text('status').$type<MessageStatus>().notNull().default('queued'),
    providerId: text('provider_id'),
    failureReason: text('failure_reason'),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    firstOpenedAt: timestamp('first_opened_at', { withTimezone: true }),
    firstClickedAt: timestamp('first_clicked_at', { withTimezone: true }),
    openCount: integer('open_count').notNull().default(0),
    clickCount: integer('click_count').notNull().default(0),
    bouncedAt: timestamp('bounced_at', { withTimezone: true }),
    /** The lead marked it as spam (the provider's complaint event): the breaker's complaint count. */
    complainedAt: timestamp('complained_at', { withTimezone: true }),
    /** Whose inbox it lands in, for the recipient-domain cap: `domain:acme.com`, or `address:<it>` at a free-mail provider. */
    recipientKey: text('recipient_key'),
    /** The first email of its enrolment: a new lead started, what a sequence's new-leads cap counts. */
    firstOfEnrolment: boolean('first_of_enrolment').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('messages_idempotency_idx').on(t.idempotencyKey),
    uniqueIndex('messages_reply_token_idx').on(t.replyToken),
    index('messages_enrolment_idx').on(t.enrolmentId),
    index('messages_provider_idx').on(t.providerId),
    index('messages_account_sent_idx').on(t.accountId, t.sentAt),
    index('messages_sender_sent_idx')
      .on(t.senderId, t.createdAt)
      .where(sql`sender_id is not null`),
    index('messages_rfc_message_id_idx')
      .on(t.rfcMessageId)
      .where(sql`rfc_message_id is not null`),
    index('messages_recipient_idx')
      .on(t.accountId, t.recipientKey, t.createdAt)
      .where(sql`recipient_key is not null`),
    index('messages_first_of_enrolment_idx')
      .on(t.accountId, t.createdAt)
      .where(sql`first_of_enrolment`),
    index('messages_variant_idx')
      .on(t.variantId)
      .where(sql`variant_id is not null`),
  ],
);

/** An email to one lead outside any sequence; sent durably like a step by its own workflow. */
export const oneOffEmails = pgTable('one_off_emails', {
  id: id(),
  accountId: accountId(),
  leadId: uuid('lead_id')
    .notNull()
    .references(() => leads.id, { onDelete: 'cascade' }),
  subject: text('subject').notNull(),
  body: text('body').notNull(),
  replyToken: text('reply_token').notNull(),
  status: text('status').$type<'queued' | 'sent' | 'suppressed' | 'failed'>().notNull().default('queued'),
  reason: text('reason'),
  createdAt: createdAt(),
});

/** Test copies of a step sent to the account's own address: they count against the daily cap. */
export const testEmails = pgTable(
  'test_emails',
  {
    id: id(),
    accountId: accountId(),
    stepId: uuid('step_id'),
    toEmail: text('to_email').notNull(),
    providerId: text('provider_id'),
    createdAt: createdAt(),
  },
  (t) => [index('test_emails_account_created_idx').on(t.accountId, t.createdAt)],
);

/** Provider webhook deliveries, keyed by their event id so a redelivery is a no-op. */
export const webhookEvents = pgTable('webhook_events', {
  id: text('id').primaryKey(),
  source: text('source').notNull().default('resend'),
  type: text('type').notNull(),
  payload: jsonb('payload').notNull(),
  receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  processedAt: timestamp('processed_at', { withTimezone: true }),
});

/** Inbound emails: replies and auto-replies from leads. */
export const inboundMessages = pgTable(
  'inbound_messages',
  {
    id: id(),
    accountId: accountId(),
    enrolmentId: uuid('enrolment_id').references(() => enrolments.id, { onDelete: 'cascade' }),
    leadId: uuid('lead_id').references(() => leads.id, { onDelete: 'cascade' }),
    /** The email of ours it answers, when known. */
    messageId: uuid('message_id'),
    providerId: text('provider_id'),
    fromEmail: text('from_email').notNull(),
    subject: text('subject').notNull().default(''),
    text: text('text').notNull().default(''),
    isAutoReply: boolean('is_auto_reply').notNull().default(false),
    /**
     * Who wrote it, compared with the lead: `lead` (the lead's own address), `lead_domain` (a
     * colleague at the lead's domain) or `other` (anyone else: shown as such, never a reply by itself).
     */
    sender: text('sender').$type<'lead' | 'lead_domain' | 'other'>().notNull().default('lead'),
    /** What it is (domain/reply-classification.ts), why, and what the service did about it (domain/inbound-policy.ts). */
    classification: text('classification').$type<InboundClass>().notNull().default('reply'),
    evidence: jsonb('evidence').$type<ClassificationEvidence | null>(),
    /** An out-of-office's return day as written (yyyy-MM-dd in the lead's zone), when one was read. */
    returnDate: text('return_date'),
    action: text('action').$type<InboundAction>().notNull().default('on_reply'),
    /** Until when the enrolment waits for the lead's return (an out-of-office). */
    resumesAt: timestamp('resumes_at', { withTimezone: true }),
    /** A user's correction: the class the service gave first, and when it was corrected. */
    correctedFrom: text('corrected_from').$type<InboundClass>(),
    correctedAt: timestamp('corrected_at', { withTimezone: true }),
    /** How a user judged a real reply (positive: interested), for the experiments' positive-reply counts. */
    sentiment: text('sentiment').$type<ReplySentiment>(),
    /**
     * Whether the receiving server vouched for the From address (DMARC, or DKIM or SPF aligned with
     * it, in its Authentication-Results); null when it said nothing. Only a vouched-for email
     * reaches the lead's colleagues.
     */
    senderAuthenticated: boolean('sender_authenticated'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    /** When its side effects (signals, forward, portal events) were done: null while they are due. */
    processedAt: timestamp('processed_at', { withTimezone: true }),
  },
  (t) => [
    index('inbound_messages_enrolment_idx').on(t.enrolmentId),
    // The provider id is the sender's Message-ID for raw MIME, which a stranger chooses: unique per
    // account, so one account's email never stands in for another's.
    uniqueIndex('inbound_messages_account_provider_idx').on(t.accountId, t.providerId),
  ],
);

/**
 * Each correction a user made of how an inbound email was read, and what it did. Written with the
 * corrected class in one transaction; `appliedAt` is set once its side effects (signals, lifted
 * unsubscription, portal event) are done, so a retry of the same correction finishes the work.
 */
export const inboundCorrections = pgTable(
  'inbound_corrections',
  {
    id: id(),
    accountId: accountId(),
    inboundId: uuid('inbound_id')
      .notNull()
      .references(() => inboundMessages.id, { onDelete: 'cascade' }),
    previousClass: text('previous_class').$type<InboundClass>().notNull(),
    previousAction: text('previous_action').$type<InboundAction>().notNull(),
    class: text('class').$type<InboundClass>().notNull(),
    action: text('action').$type<InboundAction>().notNull(),
    returnDate: text('return_date'),
    resumesAt: timestamp('resumes_at', { withTimezone: true }),
    /** What the enrolment was when the correction was asked for (its effects are decided on it). */
    enrolmentStatus: text('enrolment_status').$type<EnrolmentStatus>(),
    /** Whether the enrolment's pause was this email's doing (its reply pause or its wait). */
    pausedByThis: boolean('paused_by_this').notNull().default(false),
    effect: text('effect'),
    createdAt: createdAt(),
    appliedAt: timestamp('applied_at', { withTimezone: true }),
  },
  (t) => [index('inbound_corrections_inbound_idx').on(t.inboundId, t.createdAt)],
);

/**
 * Why a lead is unsubscribed: one row per cause (the footer link, a complaint, an email asking,
 * the API). `leads.unsubscribed_at` is set while any row is unlifted; a user's correction of an
 * email read as "remove me" lifts only that email's row, so a later real unsubscribe stands.
 */
export const leadUnsubscriptions = pgTable(
  'lead_unsubscriptions',
  {
    id: id(),
    accountId: accountId(),
    leadId: uuid('lead_id')
      .notNull()
      .references(() => leads.id, { onDelete: 'cascade' }),
    source: text('source').notNull(),
    /** The inbound email that asked, when one did. */
    inboundId: uuid('inbound_id'),
    createdAt: createdAt(),
    liftedAt: timestamp('lifted_at', { withTimezone: true }),
  },
  (t) => [index('lead_unsubscriptions_lead_idx').on(t.leadId), uniqueIndex('lead_unsubscriptions_inbound_idx').on(t.inboundId)],
);

export const notifications = pgTable(
  'notifications',
  {
    id: id(),
    accountId: accountId(),
    type: text('type').$type<NotificationType>().notNull(),
    enrolmentId: uuid('enrolment_id').references(() => enrolments.id, { onDelete: 'cascade' }),
    leadId: uuid('lead_id').references(() => leads.id, { onDelete: 'cascade' }),
    /** The sender whose email it is about (a reply to their email): who should act on it. */
    senderId: uuid('sender_id'),
    title: text('title').notNull(),
    body: text('body').notNull().default(''),
    readAt: timestamp('read_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('notifications_account_idx').on(t.accountId, t.createdAt)],
);
