import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { accounts, enrolments, leads, messages, sequences, steps } from '../db/schema.js';
import type { MergeContext } from '../domain/merge-fields.js';
import { nextStep } from '../domain/schedule.js';

/** Everything the activities need to know about one enrolment, read in one place. */
export async function loadEnrolmentContext(db: Db, enrolmentId: string, options: { lock?: boolean } = {}) {
  const base = db
    .select({ enrolment: enrolments, lead: leads, sequence: sequences, account: accounts })
    .from(enrolments)
    .innerJoin(leads, eq(leads.id, enrolments.leadId))
    .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
    .innerJoin(accounts, eq(accounts.id, enrolments.accountId))
    .where(eq(enrolments.id, enrolmentId));
  // The lock serialises a send against a reply, unsubscribe or stop written at the same moment.
  const [row] = options.lock ? await base.for('update', { of: enrolments }) : await base;
  if (!row) return undefined;
  const liveSteps = await db
    .select()
    .from(steps)
    .where(and(eq(steps.sequenceId, row.sequence.id), isNull(steps.deletedAt)))
    .orderBy(asc(steps.position));
  const sent = await db
    .select({ stepId: messages.stepId, position: steps.position })
    .from(messages)
    .innerJoin(steps, eq(steps.id, messages.stepId))
    .where(and(eq(messages.enrolmentId, enrolmentId), sql`${messages.status} <> 'failed'`))
    .orderBy(asc(messages.createdAt));
  const sentSteps = sent.map((s) => ({ stepId: s.stepId!, position: s.position }));
  const next = nextStep(liveSteps, sentSteps);
  const zone = row.lead.timezone ?? row.account.timezone;
  return { ...row, steps: liveSteps, sentSteps, next, zone };
}

export type EnrolmentContext = NonNullable<Awaited<ReturnType<typeof loadEnrolmentContext>>>;

/** What a template may see of a lead; previews pass sample data of the same shape. */
export type MergeableLead = Pick<EnrolmentContext['lead'], 'firstName' | 'lastName' | 'email' | 'company' | 'title' | 'phone' | 'customFields'>;

export function mergeContextOf(lead: MergeableLead, account: EnrolmentContext['account']): MergeContext {
  return {
    lead: {
      first_name: lead.firstName,
      last_name: lead.lastName,
      full_name: [lead.firstName, lead.lastName].filter(Boolean).join(' '),
      email: lead.email ?? '',
      company: lead.company,
      title: lead.title,
      phone: lead.phone,
    },
    custom: lead.customFields,
    sender: {
      name: account.senderName,
      email: account.senderEmail ?? '',
      company: account.companyName,
      signature: account.signature,
    },
  };
}
