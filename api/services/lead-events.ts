import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Config } from '../../config.js';
import type { Account } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { liveEnrolmentsOfLead } from '../../db/enrolment-queries.js';
import { enrolmentEvents, enrolments, leadEvents, leads, sequences } from '../../db/schema.js';
import { isLive } from '../../domain/enrolment-status.js';
import { storableJson } from '../../domain/inbound.js';
import { leadEventAction, leadEventReason, suppressesLead, type LeadEventAction } from '../../domain/lead-events.js';
import type { Logger } from '../../logger.js';
import { ApiError, notFound } from '../errors.js';
import { pauseOrStopEnrolments } from './workflow-starter.js';

// The portal's own events about a lead (POST /v1/leads/{id}/events): a meeting booked, a deal won
// or lost, do not contact, or a name of its own. Each live enrolment of the lead does what its
// sequence's leadEventRules say (domain/lead-events.ts); do_not_contact also suppresses the lead
// account-wide. An event key is applied once, however many requests carry it.

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
  logger?: Logger;
}

export type LeadEvent = typeof leadEvents.$inferSelect;
export interface LeadEventEffect {
  enrolmentId: string;
  sequenceId: string;
  action: LeadEventAction;
}
export interface RecordedLeadEvent {
  event: LeadEvent;
  /** The key was seen before: this is the first request's event, and nothing was applied again. */
  duplicate: boolean;
  effects: LeadEventEffect[];
}

/**
 * Records the event and applies it. In one transaction: the event row (its key claimed by the
 * unique index, so a concurrent request with the same key waits here for this one to commit and
 * then finds it taken), the lead's do-not-contact mark, and a `lead_event` timeline entry on every
 * live enrolment saying what the event does there. The mark is the durable truth every send
 * re-checks under its lock; after the commit, the workflows are signalled to stop or pause with
 * the reason. The timeline entries are also the record of the effects: a repeated key answers them.
 */
export async function recordLeadEvent(
  deps: Deps,
  account: Account,
  leadId: string,
  input: { name: string; eventKey?: string; detail?: Record<string, unknown> },
): Promise<RecordedLeadEvent> {
  const eventKey = input.eventKey ?? randomUUID();
  const detail = storableJson(input.detail ?? {}) as Record<string, unknown>;
  const recorded = await deps.db.transaction(async (tx) => {
    const [lead] = await tx
      .select({ id: leads.id })
      .from(leads)
      .where(and(eq(leads.id, leadId), eq(leads.accountId, account.id)));
    if (!lead) throw notFound('Lead');
    const [event] = await tx
      .insert(leadEvents)
      .values({ accountId: account.id, leadId, name: input.name, eventKey, detail })
      .onConflictDoNothing({ target: [leadEvents.accountId, leadEvents.eventKey] })
      .returning();
    if (!event) return undefined;
    const live = await tx
      .select({ enrolmentId: enrolments.id, sequenceId: enrolments.sequenceId, rules: sequences.leadEventRules })
      .from(enrolments)
      .innerJoin(sequences, eq(sequences.id, enrolments.sequenceId))
      .where(and(eq(enrolments.accountId, account.id), liveEnrolmentsOfLead(leadId)))
      .orderBy(asc(enrolments.id));
    const effects = live.map((e) => ({
      enrolmentId: e.enrolmentId,
      sequenceId: e.sequenceId,
      action: leadEventAction(e.rules, input.name),
    }));
    if (suppressesLead(input.name)) {
      // The first mark stands: a second do_not_contact changes nothing.
      await tx
        .update(leads)
        .set({ doNotContactAt: sql`coalesce(${leads.doNotContactAt}, now())`, updatedAt: new Date() })
        .where(eq(leads.id, leadId));
    }
    if (effects.length) {
      await tx.insert(enrolmentEvents).values(
        effects.map((e) => ({
          accountId: account.id,
          enrolmentId: e.enrolmentId,
          type: 'lead_event',
          detail: { leadEventId: event.id, name: event.name, eventKey: event.eventKey, action: e.action },
        })),
      );
    }
    return { event, effects };
  });

  if (!recorded) return repeatedLeadEvent(deps, account, leadId, input.name, eventKey);
  await deliver(deps, recorded.event, recorded.effects);
  return { ...recorded, duplicate: false };
}

/**
 * A key seen before: the first request's event and effects. Its signals are delivered again
 * where they may not have arrived (the first request failed after its commit, say, with Temporal
 * away): a stop to an enrolment still live, a pause to one still active with no status change
 * since the event. A stop ends an enrolment once, and a pause that was applied and then lifted by
 * a person shows as a status change: either way nothing is applied twice.
 */
async function repeatedLeadEvent(deps: Deps, account: Account, leadId: string, name: string, eventKey: string): Promise<RecordedLeadEvent> {
  const [event] = await deps.db
    .select()
    .from(leadEvents)
    .where(and(eq(leadEvents.accountId, account.id), eq(leadEvents.eventKey, eventKey)));
  // The insert found the key taken by a committed row: it can only be gone if its lead was deleted since.
  if (!event) throw new Error('an eventKey was taken by a lead event that can no longer be read');
  if (event.leadId !== leadId || event.name !== name) {
    throw new ApiError(
      422,
      'event_key_reused',
      `This eventKey was used for another event (${event.name} of lead ${event.leadId}); a retry sends the same lead and name`,
      'eventKey',
    );
  }
  const rows = await deps.db
    .select({
      enrolmentId: enrolments.id,
      sequenceId: enrolments.sequenceId,
      status: enrolments.status,
      action: sql<LeadEventAction>`${enrolmentEvents.detail}->>'action'`,
      at: enrolmentEvents.createdAt,
    })
    .from(enrolments)
    .innerJoin(enrolmentEvents, eq(enrolmentEvents.enrolmentId, enrolments.id))
    .where(
      and(
        eq(enrolments.leadId, leadId),
        eq(enrolments.accountId, account.id),
        eq(enrolmentEvents.type, 'lead_event'),
        sql`${enrolmentEvents.detail}->>'leadEventId' = ${event.id}`,
      ),
    )
    .orderBy(asc(enrolments.id));
  const effects = rows.map(({ enrolmentId, sequenceId, action }) => ({ enrolmentId, sequenceId, action }));

  const undelivered: LeadEventEffect[] = [];
  for (const row of rows) {
    if (row.action === 'stop' && isLive(row.status)) undelivered.push(row);
    if (row.action === 'pause' && row.status === 'active' && !(await statusChangedSince(deps.db, row.enrolmentId, row.at))) {
      undelivered.push(row);
    }
  }
  await deliver(deps, event, undelivered);
  return { event, duplicate: true, effects };
}

async function statusChangedSince(db: Db, enrolmentId: string, at: Date): Promise<boolean> {
  const [changed] = await db
    .select({ id: enrolmentEvents.id })
    .from(enrolmentEvents)
    .where(and(eq(enrolmentEvents.enrolmentId, enrolmentId), eq(enrolmentEvents.type, 'status_changed'), gt(enrolmentEvents.createdAt, at)))
    .limit(1);
  return changed !== undefined;
}

/**
 * Signals each enrolment to stop or pause, with the reason. An enrolment whose workflow has not
 * started yet (its start was cut short, or is on its way) gets signal-with-start, as a colleague's
 * reply does: the stop or pause is in its workflow's first task, so no step goes out before it
 * (pauseOrStopEnrolments). A workflow that has ended meanwhile needs nothing.
 */
async function deliver(deps: Deps, event: LeadEvent, effects: LeadEventEffect[]): Promise<void> {
  const acting = effects.filter((e): e is LeadEventEffect & { action: 'stop' | 'pause' } => e.action !== 'none');
  await pauseOrStopEnrolments(
    deps,
    acting.map((e) => ({ enrolmentId: e.enrolmentId, signal: e.action })),
    leadEventReason(event.name),
  );
}
