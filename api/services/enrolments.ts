import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { and, asc, count, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Account } from '../../db/accounts.js';
import { rowsOf, type Db } from '../../db/client.js';
import {
  enrolmentBatches,
  enrolmentEvents,
  enrolments,
  leads,
  messages,
  senders,
  sequences,
  steps,
  stepVariants,
  variantAssignments,
  type EnrolmentStatus,
  type WaitingCause,
} from '../../db/schema.js';
import { assignable } from '../../domain/experiment.js';
import { accountRefusal, enrolRefusal, REFUSAL_MESSAGES, sequenceRefusal, type EnrolRefusal } from '../../domain/enrolment-rules.js';
import { isLive } from '../../domain/enrolment-status.js';
import { currentWaitCause, isLiveEnrolment, recordReplyRow } from '../../db/enrolment-queries.js';
import { missingMergeFields, requiredMergeFields } from '../../domain/merge-fields.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { mergeContextOf, replyAddress } from '../../domain/render-message.js';
import { enrolmentDtoColumns } from '../dto.js';
import { keyset, pageOf } from '../pagination.js';
import { updateEnrolment } from '../../temporal/client.js';
import type { ControlAction, EnrolmentState } from '../../workflows/contract.js';
import { ApiError, notFound } from '../errors.js';
import { liveStepsWithVariants, type Sequence } from './sequences.js';
import { tellColleaguesOfReply } from './inbound.js';
import { startEnrolmentWorkflows } from './workflow-starter.js';
import { hasChoice, lockSendersForEnrolment, sendersForEnrolment, type SenderChoice } from './senders.js';

export type EnrolResult =
  | { leadId: string; status: 'enrolled'; enrolmentId: string }
  | { leadId: string; status: 'skipped'; reason: EnrolRefusal; message: string; missingFields?: string[] };

interface Deps {
  db: Db;
  temporal: Client;
  config: Config;
  logger?: Logger;
}

const CHUNK = 2_000;
const chunks = <T>(items: T[], size = CHUNK) =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

const skipped = (leadId: string, reason: EnrolRefusal, missingFields?: string[]): EnrolResult => ({
  leadId,
  status: 'skipped',
  reason,
  message: missingFields?.length ? `${REFUSAL_MESSAGES[reason]}: ${missingFields.join(', ')}` : REFUSAL_MESSAGES[reason],
  ...(missingFields?.length ? { missingFields } : {}),
});

/**
 * Enrols leads in a sequence: each is judged by the rules in domain/enrolment-rules.ts, the
 * accepted ones are committed in one transaction, then their workflows start. A retried request
 * with the same Idempotency-Key answers the first result.
 */
export async function enrolLeads(
  deps: Deps,
  account: Account,
  sequence: Sequence,
  leadIds: string[],
  options: { idempotencyKey?: string; senders?: SenderChoice } = {},
): Promise<EnrolResult[]> {
  const { db } = deps;
  const { idempotencyKey, senders: choice = {} } = options;
  const request = idempotencyKey
    ? { key: idempotencyKey, hash: requestHash(sequence.id, leadIds, choice), sequenceId: sequence.id }
    : undefined;
  if (request) {
    const previous = await answeredBatch(deps, account.id, request);
    if (previous) return previous;
  }
  const unfit = accountRefusal(account);
  if (unfit) throw new ApiError(422, unfit.code, unfit.message, unfit.field);
  const stepRows = await liveStepsWithVariants(db, sequence.id);
  const closed = sequenceRefusal({ status: sequence.status, liveStepCount: stepRows.length });
  if (closed) return leadIds.map((id) => skipped(id, closed));
  // Every variant the lead may be sent counts: which one it gets is decided later, at planning.
  const templates = stepRows.flatMap((s) => [s, ...assignable(s.variants)]);
  const required = [...new Set(templates.flatMap((t) => [...requiredMergeFields(t.subject), ...requiredMergeFields(t.body)]))];

  // Who each lead sends as, decided now and kept for the whole sequence (every named sender is
  // checked first: an unknown or retired one refuses the request).
  const { senderOf, ids: senderIds } = await sendersForEnrolment(db, account, sequence, leadIds, choice);
  const uniqueIds = [...new Set(leadIds)];
  const leadRows = (
    await Promise.all(
      chunks(uniqueIds).map((ids) =>
        db
          .select()
          .from(leads)
          .where(and(eq(leads.accountId, account.id), inArray(leads.id, ids))),
      ),
    )
  ).flat();
  const leadById = new Map(leadRows.map((l) => [l.id, l]));
  const live = (
    await Promise.all(
      chunks(uniqueIds).map((ids) =>
        db
          .select({ leadId: enrolments.leadId, sequenceId: enrolments.sequenceId })
          .from(enrolments)
          .where(and(inArray(enrolments.leadId, ids), isLiveEnrolment())),
      ),
    )
  ).flat();
  const inThis = new Set(live.filter((e) => e.sequenceId === sequence.id).map((e) => e.leadId));
  const inOther = new Set(live.filter((e) => e.sequenceId !== sequence.id).map((e) => e.leadId));

  let capacity = Infinity;
  if (account.limits.maxActiveEnrolments !== null) {
    const [row] = await db
      .select({ n: count() })
      .from(enrolments)
      .where(and(eq(enrolments.accountId, account.id), isLiveEnrolment()));
    capacity = Math.max(0, account.limits.maxActiveEnrolments - (row?.n ?? 0));
  }

  const seen = new Set<string>();
  const results: EnrolResult[] = [];
  const accepted: { result: EnrolResult & { status: 'enrolled' }; lead: (typeof leadRows)[number] }[] = [];
  for (const leadId of leadIds) {
    const lead = leadById.get(leadId);
    const missing = lead ? missingMergeFields(required, mergeContextOf(lead, account, senderOf(leadId))) : [];
    const refusal = enrolRefusal({
      duplicateInRequest: seen.has(leadId),
      lead,
      activeInThisSequence: inThis.has(leadId),
      activeInOtherSequence: inOther.has(leadId),
      allowParallelEnrolment: account.allowParallelEnrolment,
      missingFields: missing,
      capacityLeft: capacity - accepted.length,
    });
    seen.add(leadId);
    if (refusal) {
      results.push(skipped(leadId, refusal, refusal === 'missing_merge_fields' ? missing : undefined));
    } else {
      const result = { leadId, status: 'enrolled' as const, enrolmentId: randomUUID() };
      results.push(result);
      accepted.push({ result, lead: lead! });
    }
  }

  // One transaction: every accepted enrolment and the batch record, or none of them. The batch
  // row comes first: a concurrent request with the same Idempotency-Key waits on its unique
  // index until this commits, then finds the key taken and answers this request's results.
  const batchId = randomUUID();
  const claimed = await db
    .transaction(async (tx) => {
      const [claim] = await tx
        .insert(enrolmentBatches)
        .values({
          id: batchId,
          accountId: account.id,
          sequenceId: sequence.id,
          idempotencyKey: request?.key ?? null,
          requestHash: request?.hash ?? null,
          results: null,
        })
        .onConflictDoNothing()
        .returning({ id: enrolmentBatches.id });
      if (!claim) throw KEY_TAKEN;
      await lockSendersForEnrolment(tx, senderIds);
      // The sequence's active count, which each chunk's insert adds to (a trigger), is locked
      // before any chunk: two requests enrolling into one sequence then wait for each other at
      // the start, instead of each holding rows of the live index the other's next chunk needs.
      await tx.execute(sql`insert into sequence_enrolment_counts as c (sequence_id, status, enrolments)
        values (${sequence.id}, 'active', 0)
        on conflict (sequence_id, status) do update set enrolments = c.enrolments`);
      // In lead order: two requests enrolling overlapping leads take the live index's locks in the
      // same order, so they wait for each other instead of deadlocking.
      const inLeadOrder = [...accepted].sort((a, b) =>
        a.result.leadId < b.result.leadId ? -1 : a.result.leadId > b.result.leadId ? 1 : 0,
      );
      for (const part of chunks(inLeadOrder)) {
        const inserted = await tx
          .insert(enrolments)
          .values(
            part.map(({ result }) => ({
              id: result.enrolmentId,
              accountId: account.id,
              sequenceId: sequence.id,
              leadId: result.leadId,
              senderId: senderOf(result.leadId)?.id ?? null,
              replyToken: randomBytes(12).toString('hex'),
              batchId,
            })),
          )
          .onConflictDoNothing()
          .returning({ id: enrolments.id });
        // A concurrent request enrolled some of these first: the database's live index decided.
        const insertedIds = new Set(inserted.map((r) => r.id));
        for (const { result } of part) {
          if (!insertedIds.has(result.enrolmentId)) {
            results[results.indexOf(result)] = skipped(result.leadId, 'already_enrolled');
          }
        }
        if (inserted.length) {
          await tx
            .insert(enrolmentEvents)
            .values(inserted.map((r) => ({ accountId: account.id, enrolmentId: r.id, type: 'enrolled', toStatus: 'active' })));
        }
      }
      await tx.update(enrolmentBatches).set({ results }).where(eq(enrolmentBatches.id, batchId));
      return true;
    })
    .catch((error: unknown) => {
      if (error === KEY_TAKEN) return false;
      throw error;
    });
  if (!claimed) {
    const winner = request && (await answeredBatch(deps, account.id, request));
    if (!winner) throw new Error('an Idempotency-Key was taken by a request whose batch cannot be read');
    return winner;
  }

  const toStart = accepted.filter(({ result }) => results.includes(result));
  await startEnrolmentWorkflows(
    deps,
    toStart.map(({ result, lead }) => ({
      id: result.enrolmentId,
      accountId: account.id,
      sequenceId: sequence.id,
      leadId: lead.id,
      leadEmail: lead.email,
      sequenceName: sequence.name,
      senderId: senderOf(lead.id)?.id ?? null,
    })),
    { batchId },
  );
  return results;
}

const KEY_TAKEN = new Error('idempotency key taken by a concurrent request');

/** What identifies a bulk request: its sequence, its leads in order, and who they send as. */
function requestHash(sequenceId: string, leadIds: string[], choice: SenderChoice): string {
  // A request naming no sender hashes as requests did before there were senders.
  // Per-lead senders by lead id, so the same map written in another key order is the same request.
  const senders = { ...choice, leadSenders: Object.entries(choice.leadSenders ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  const parts: unknown[] = hasChoice(choice) ? [sequenceId, leadIds, senders] : [sequenceId, leadIds];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * The answer already given to a request with this Idempotency-Key, or nothing if the key is new.
 * The same key with another request is refused, as the IETF idempotency-key draft recommends.
 */
async function answeredBatch(
  deps: Deps,
  accountId: string,
  request: { key: string; hash: string; sequenceId: string },
): Promise<EnrolResult[] | undefined> {
  const [previous] = await deps.db
    .select()
    .from(enrolmentBatches)
    .where(and(eq(enrolmentBatches.accountId, accountId), eq(enrolmentBatches.idempotencyKey, request.key)));
  if (!previous) return undefined;
  // Batches from before request hashes were kept are matched on their sequence alone.
  if (previous.requestHash ? previous.requestHash !== request.hash : previous.sequenceId !== request.sequenceId) {
    throw new ApiError(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different request', 'Idempotency-Key');
  }
  // Answer at once: the enrolments are committed, and starting thousands of workflows left
  // behind by a crash can outlast the client's timeout (which would retry again). The starts
  // go on in the background; if this process dies too, the sweeper finishes them.
  void resumeStarts(deps, previous.id).catch(() => undefined);
  return previous.results as EnrolResult[];
}

/** A retried bulk request after a crash: start whatever the first attempt did not. */
async function resumeStarts(deps: Deps, batchId: string) {
  type Row = {
    id: string;
    account_id: string;
    sequence_id: string;
    lead_id: string;
    email: string | null;
    name: string;
    sender_id: string | null;
  };
  const list = rowsOf<Row>(
    await deps.db.execute(sql`
      select e.id, e.account_id, e.sequence_id, e.lead_id, l.email, s.name, e.sender_id
      from enrolments e join leads l on l.id = e.lead_id join sequences s on s.id = e.sequence_id
      where e.batch_id = ${batchId} and e.workflow_started_at is null`),
  );
  if (list.length === 0) return;
  await startEnrolmentWorkflows(
    deps,
    list.map((r) => ({
      id: r.id,
      accountId: r.account_id,
      sequenceId: r.sequence_id,
      leadId: r.lead_id,
      leadEmail: r.email,
      sequenceName: r.name,
      senderId: r.sender_id,
    })),
    { batchId },
  );
}

/**
 * A page of a sequence's enrolments, with their leads, and on the first page the counts per
 * status. Read in one statement, so in one snapshot: the page and the counts never contradict
 * each other (a list of three paused enrolments never comes with `{active: 3}` right after a
 * sequence-wide pause), in one round trip and with no transaction to open and close.
 */
export async function listSequenceEnrolments(
  db: Db,
  sequenceId: string,
  query: { status?: EnrolmentStatus; senderId?: string; waitingFor?: WaitingCause; limit: number; cursor?: { at: Date; id: string } },
) {
  const { where, orderBy } = keyset(query.cursor, enrolments.enrolledAt, enrolments.id, 'desc');
  // The page is chosen from enrolments alone, then joined to its leads: a plan made without
  // fresh statistics (a big sequence just enrolled) otherwise joins all 10,000 before sorting.
  const pageOfEnrolments = db
    .select({ ...enrolmentDtoColumns, holdout: enrolments.holdout })
    .from(enrolments)
    .where(
      and(
        eq(enrolments.sequenceId, sequenceId),
        query.status ? eq(enrolments.status, query.status) : undefined,
        query.senderId ? eq(enrolments.senderId, query.senderId) : undefined,
        query.waitingFor ? eq(currentWaitCause(), query.waitingFor) : undefined,
        where,
      ),
    )
    .orderBy(...orderBy)
    .limit(query.limit + 1)
    .as('page');
  // Counts describe the whole sequence, not a page: they come with the first page only. An
  // uncorrelated subquery: PostgreSQL reads them once per statement, not once per row.
  const counted = query.cursor ? sql<null>`null::jsonb` : sql<Record<string, number>>`(${countsJson(sequenceId)})`;
  const rows = await db
    .select({
      enrolment: pageOfEnrolments._.selectedFields,
      lead: { id: leads.id, email: leads.email, firstName: leads.firstName, lastName: leads.lastName },
      counts: counted,
    })
    .from(pageOfEnrolments)
    .innerJoin(leads, eq(leads.id, pageOfEnrolments.leadId))
    .orderBy(desc(pageOfEnrolments.enrolledAt), desc(pageOfEnrolments.id));
  // An empty page carries no row to bring the counts: they are read apart (nothing to contradict).
  const counts = query.cursor ? undefined : rows.length ? rows[0]!.counts : await statusCounts(db, sequenceId);
  const { page, nextCursor } = pageOf(
    rows.map(({ enrolment, lead }) => ({ enrolment, lead })),
    query.limit,
    (r) => ({ at: r.enrolment.enrolledAt, id: r.enrolment.id }),
  );
  return { page, counts, nextCursor };
}

/** One enrolment with its lead, timeline, messages and variants, and the address its replies go to. */
export async function enrolmentDetail(deps: { db: Db; config: Pick<Config, 'INBOUND_DOMAIN'> }, account: Account, id: string) {
  const { db } = deps;
  const enrolment = await findEnrolment(db, account, id);
  // Independent reads: one round trip's wait, not four.
  const [[lead], events, sent, variants] = await Promise.all([
    db.select().from(leads).where(eq(leads.id, enrolment.leadId)),
    db.select().from(enrolmentEvents).where(eq(enrolmentEvents.enrolmentId, id)).orderBy(asc(enrolmentEvents.createdAt)),
    db
      .select({
        id: messages.id,
        stepId: messages.stepId,
        subject: messages.subject,
        status: messages.status,
        sentAt: messages.sentAt,
        deliveredAt: messages.deliveredAt,
        firstOpenedAt: messages.firstOpenedAt,
        firstClickedAt: messages.firstClickedAt,
      })
      .from(messages)
      .where(eq(messages.enrolmentId, id))
      .orderBy(asc(messages.createdAt)),
    // Which variant of each experiment step it gets (or got), in step order.
    db
      .select({ stepId: variantAssignments.stepId, variantId: variantAssignments.variantId, label: stepVariants.label })
      .from(variantAssignments)
      .innerJoin(stepVariants, eq(stepVariants.id, variantAssignments.variantId))
      .innerJoin(steps, eq(steps.id, variantAssignments.stepId))
      .where(eq(variantAssignments.enrolmentId, id))
      .orderBy(asc(steps.position), asc(variantAssignments.assignedAt)),
  ]);
  return { enrolment, lead: lead!, events, messages: sent, variants, replyTo: replyAddress(deps.config, enrolment.replyToken) };
}

export async function findEnrolment(db: Db, account: Account, id: string) {
  const [row] = await db
    .select()
    .from(enrolments)
    .where(and(eq(enrolments.id, id), eq(enrolments.accountId, account.id)));
  if (!row) throw notFound('Enrolment');
  return row;
}

const UPDATE_DEADLINE_MS = 10_000;

/**
 * Pause, resume, stop or mark replied. Goes through the workflow's `control` update, which
 * answers once the database holds the new status (read-your-writes). The same signal sent from
 * the Temporal CLI has the same effect.
 */
export async function controlEnrolment(
  deps: Deps,
  account: Account,
  enrolmentId: string,
  action: Extract<ControlAction, 'pause' | 'resume' | 'stop' | 'reply'>,
): Promise<{ accepted: boolean; state?: EnrolmentState }> {
  const enrolment = await findEnrolment(deps.db, account, enrolmentId);
  if (action === 'reply') {
    await recordReplyRow(deps.db, account.id, enrolmentId, { source: 'api' });
    await tellColleaguesOfMarkedReply(deps, enrolmentId);
  }
  if (!isLive(enrolment.status)) {
    if (action === 'reply') return { accepted: true };
    throw new ApiError(409, 'enrolment_ended', `The enrolment has ended (${enrolment.status}); enrol the lead again instead`);
  }
  if (action === 'resume' && enrolment.senderId) {
    // A retired sender sends nothing: resuming would only pause it again at its next step.
    const [sender] = await deps.db.select({ retiredAt: senders.retiredAt }).from(senders).where(eq(senders.id, enrolment.senderId));
    if (sender?.retiredAt) {
      throw new ApiError(
        409,
        'sender_retired',
        'Its sender was retired: retire them again with a sender to move to (moveTo), then resume',
        'senderId',
      );
    }
  }
  if (!enrolment.workflowStartedAt) {
    // Its start was cut short (the API died after committing it): start it now, then act.
    const [names] = await deps.db
      .select({ leadEmail: leads.email, sequenceName: sequences.name })
      .from(leads)
      .innerJoin(sequences, eq(sequences.id, enrolment.sequenceId))
      .where(eq(leads.id, enrolment.leadId));
    await startEnrolmentWorkflows(deps, [
      {
        id: enrolment.id,
        accountId: account.id,
        sequenceId: enrolment.sequenceId,
        leadId: enrolment.leadId,
        leadEmail: names?.leadEmail ?? null,
        sequenceName: names?.sequenceName ?? '',
        senderId: enrolment.senderId,
      },
    ]);
  }
  const result = await updateEnrolment(deps, enrolmentId, action, UPDATE_DEADLINE_MS);
  if (result.outcome === 'ended') throw new ApiError(409, 'enrolment_ended', 'The enrolment has ended; enrol the lead again instead');
  return result.outcome === 'applied' ? { accepted: true, state: result.state } : { accepted: true };
}

/**
 * A reply marked through the API reaches the lead's colleagues as the lead's emailed reply does
 * (the sequence's onColleagueReply and colleagueScope: tellColleaguesOfReply), once per reply:
 * the fan-out is keyed by the reply's timeline entry, which recordReplyRow writes once per reply
 * (none for a second mark before a resume), so a retried or repeated request starts nothing new
 * (REJECT_DUPLICATE) and does not pause again colleagues a person resumed since. Only a reply the
 * API recorded: one that came by email has had its own fan-out, by its inbound email.
 */
async function tellColleaguesOfMarkedReply(deps: Deps, enrolmentId: string): Promise<void> {
  const [latest] = await deps.db
    .select({ id: enrolmentEvents.id, source: sql<string | null>`${enrolmentEvents.detail}->>'source'` })
    .from(enrolmentEvents)
    .where(and(eq(enrolmentEvents.enrolmentId, enrolmentId), eq(enrolmentEvents.type, 'reply')))
    .orderBy(desc(enrolmentEvents.createdAt), desc(enrolmentEvents.id))
    .limit(1);
  if (latest?.source !== 'api') return;
  await tellColleaguesOfReply(deps, { enrolmentId, once: `marked-reply-${latest.id}` });
}

/**
 * Enrolments per status of a sequence, as one JSON object ({} for none), from the counts the
 * database keeps with every write (sequence_enrolment_counts): a few rows read, however large the
 * sequence, and in the snapshot of the statement it is part of.
 */
function countsJson(sequenceId: string) {
  return sql<Record<string, number>>`select coalesce(jsonb_object_agg(status, enrolments), '{}'::jsonb)
    from sequence_enrolment_counts where sequence_id = ${sequenceId} and enrolments <> 0`;
}

/** Enrolments per status in a sequence, as GET /v1/sequences/{id} shows them. */
export async function statusCounts(db: Db, sequenceId: string): Promise<Record<string, number>> {
  const [row] = rowsOf<{ counts: Record<string, number> }>(await db.execute(sql`select (${countsJson(sequenceId)}) as counts`));
  return row?.counts ?? {};
}
