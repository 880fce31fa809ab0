import { sql, type Query, type SQL } from 'drizzle-orm';
import { buildOnce, executeNamed, type Db } from '../db/client.js';
import { rowFromJson } from '../db/json-rows.js';
import { accounts, enrolments, leads, messages, senders, sequences, steps, type VariantStatus } from '../db/schema.js';
import type { Message } from './deliver-message.js';
import { sequenceDaysOff, type HolidayCalendar } from '../domain/holidays.js';
import { nextStep } from '../domain/schedule.js';

/** A step's variant as sending needs it. */
export interface VariantContent {
  id: string;
  label: string;
  subject: string;
  body: string;
  weight: number;
  status: VariantStatus;
}

/** A step as the context's one statement reads it, with this enrolment's email for it and the step's variants. */
interface StepOfEnrolment {
  step: Record<string, unknown>;
  sentAt: string | null;
  variants: VariantContent[];
  assignedVariantId: string | null;
}

/**
 * The context's one statement: the enrolment with its lead, sequence, account and sender; the
 * sequence's steps with this enrolment's message for each: live steps plan what comes next, and
 * sent ones (even if deleted since) say where the enrolment stands. An email stored but not yet
 * marked sent (its send crashed, or waits for the provider's quota) is not sent: the plan is its
 * step again, and the send finishes it with the same bytes and idempotency key. Each step's
 * variants and this enrolment's assignment ride along (at most five small rows a step, through
 * their indexes), and so does the enrolment's last email that went (what a reply in its thread
 * needs). Every row comes as JSON, mapped as drizzle maps its own (rowFromJson), so the statement
 * is plain text with two parameters.
 */
const contextSelect = (lock: boolean): SQL => sql`
  select to_jsonb(e) as enrolment, to_jsonb(l) as lead, to_jsonb(q) as sequence, to_jsonb(a) as account,
    to_jsonb(snd) as sender,
    (select coalesce(jsonb_agg(jsonb_build_object(
        'step', to_jsonb(s),
        'sentAt', m.created_at,
        'variants', (select coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'label', v.label, 'subject', v.subject,
            'body', v.body, 'weight', v.weight, 'status', v.status) order by v.label), '[]'::jsonb)
          from step_variants v where v.step_id = s.id),
        'assignedVariantId', (select va.variant_id from variant_assignments va where va.enrolment_id = e.id and va.step_id = s.id)
      ) order by s.position), '[]'::jsonb)
    from steps s
    left join messages m on m.step_id = s.id and m.enrolment_id = e.id and m.status not in ('failed', 'sending')
    where s.sequence_id = e.sequence_id and (s.deleted_at is null or m.id is not null)) as steps,
    (select jsonb_build_object('id', pm.id, 'rfc_message_id', pm.rfc_message_id, 'provider_id', pm.provider_id,
        'headers', pm.headers, 'subject', pm.subject, 'thread_subject', pm.thread_subject,
        'thread_references', pm.thread_references, 'sent_at', pm.sent_at, 'created_at', pm.created_at,
        'body_text', pm.body_text, 'from_email', pm.from_email)
      from messages pm where pm.enrolment_id = e.id and pm.status in ('sent', 'delivered', 'bounced')
      order by pm.created_at desc limit 1) as previous_email,
    (select sm.id from messages sm where sm.idempotency_key = ${sql.placeholder('messageKey')}) as stored_message_id
  from enrolments e
  join leads l on l.id = e.lead_id
  join sequences q on q.id = e.sequence_id
  join accounts a on a.id = e.account_id
  -- The sender bound at enrolment (null: the account had none then).
  left join senders snd on snd.id = e.sender_id
  where e.id = ${sql.placeholder('enrolmentId')}
  ${lock ? sql`for update of e` : sql``}`;

/**
 * A digest of everything the context read: the same digest, the same facts. SHA-256, not MD5:
 * lead data in the context is a stranger's, and a guard must not be one a crafted collision
 * could pass.
 */
const digestOf = (alias: string) => sql.raw(`encode(sha256(convert_to(to_jsonb(${alias})::text, 'UTF8')), 'hex')`);

/** The context's statement, by whether it locks the enrolment: SQL built once, run as a named statement. */
const contextQueries = new Map<boolean, Query>();
function contextQuery(lock: boolean): Query {
  let query = contextQueries.get(lock);
  if (!query) {
    query = buildOnce(sql`select c.*, ${digestOf('c')} as fingerprint from (${contextSelect(lock)}) c`);
    contextQueries.set(lock, query);
  }
  return query;
}

/**
 * True in a statement when, under the enrolment's row lock, its context reads as it read with
 * `fingerprint`: nothing a decision taken from it relied on (the enrolment, its lead, sequence,
 * account, sender, steps, variants and emails) has changed since. A write guarded by it is as
 * safe as one taken in the transaction that read the context under the lock, without the
 * transaction's round trips. Its placeholders: enrolmentId, messageKey and fingerprint.
 */
export const contextUnchangedSql = (): SQL =>
  sql`exists (select from (${contextSelect(true)}) c where ${digestOf('c')} = ${sql.placeholder('fingerprint')})`;

interface ContextRow {
  enrolment: Record<string, unknown>;
  lead: Record<string, unknown>;
  sequence: Record<string, unknown>;
  account: Record<string, unknown>;
  sender: Record<string, unknown> | null;
  steps: StepOfEnrolment[];
  previous_email: Record<string, unknown> | null;
  stored_message_id: string | null;
  fingerprint: string;
}

/**
 * Everything the activities need to know about one enrolment, read in one place and in one
 * statement: every round trip is taken from the worker's one thread (bench/README.md).
 * `messageKey` also asks whether the email of that idempotency key is stored already.
 *
 * The statement is built once and named, so PostgreSQL plans it once per connection: building
 * it with the query builder and planning it on every call cost about 2 ms of the worker's thread
 * and 3 ms of PostgreSQL's, twice an email (bench/README.md).
 */
export async function loadEnrolmentContext(db: Db, enrolmentId: string, options: { lock?: boolean; messageKey?: string } = {}) {
  const [found] = await executeNamed<ContextRow>(db, contextQuery(!!options.lock), {
    enrolmentId,
    messageKey: options.messageKey ?? null,
  });
  if (!found) return undefined;
  const { enrolment, lead, sequence, account, sender, steps: stepRows, stored_message_id: storedMessageId, fingerprint } = found;
  const context = {
    enrolment: rowFromJson(enrolments, enrolment),
    lead: rowFromJson(leads, lead),
    sequence: rowFromJson(sequences, sequence),
    account: rowFromJson(accounts, account),
    sender: sender ? rowFromJson(senders, sender) : null,
    /** The enrolment's last email that went: the one a reply in its thread answers. */
    previousEmail: found.previous_email ? previousEmailOf(found.previous_email) : null,
    storedMessageId,
    fingerprint,
  };
  const read = stepRows.map((r) => ({ ...r, step: rowFromJson(steps, r.step), sentAt: r.sentAt === null ? null : new Date(r.sentAt) }));
  const liveSteps = read
    .filter((r) => !r.step.deletedAt)
    .map((r) => ({ ...r.step, variants: r.variants, assignedVariantId: r.assignedVariantId }));
  const sentSteps = read
    .filter((r): r is typeof r & { sentAt: Date } => r.sentAt !== null)
    .sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime())
    .map((r) => ({ stepId: r.step.id, position: r.step.position }));
  const next = nextStep(liveSteps, sentSteps);
  const zone = context.lead.timezone ?? context.account.timezone;
  return { ...context, steps: liveSteps, sentSteps, next, zone };
}

/** The columns of an email a reply in its thread needs (the context reads no others). */
export type PreviousEmail = Pick<
  Message,
  | 'id'
  | 'rfcMessageId'
  | 'providerId'
  | 'headers'
  | 'subject'
  | 'threadSubject'
  | 'threadReferences'
  | 'sentAt'
  | 'createdAt'
  | 'bodyText'
  | 'fromEmail'
>;
const previousEmailOf = (json: Record<string, unknown>): PreviousEmail => rowFromJson(messages, json);

/** The days off an enrolment's schedule skips: its lead's holidays and the account's closures, unless its sequence sends on them. */
export function daysOffOf(ctx: Pick<EnrolmentContext, 'lead' | 'account' | 'sequence'>): HolidayCalendar {
  return sequenceDaysOff(ctx.sequence, ctx.account)(ctx.lead.country).calendar;
}

export type EnrolmentContext = NonNullable<Awaited<ReturnType<typeof loadEnrolmentContext>>>;
