import type { Client } from '@temporalio/client';
import { and, count, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Config } from '../../config.js';
import type { Account, SenderRow } from '../../db/accounts.js';
import type { Db, Transaction } from '../../db/client.js';
import { isLiveEnrolment } from '../../db/enrolment-queries.js';
import { accounts, enrolmentEvents, enrolments, senders, sequences } from '../../db/schema.js';
import type { ProtectionTrip } from '../../domain/deliverability.js';
import { roundRobinSenders } from '../../domain/sender.js';
import { storableLine } from '../../domain/inbound.js';
import { startSenderBroadcast } from '../../temporal/client.js';
import { ApiError, notFound } from '../errors.js';
import { keyset, pageOf } from '../pagination.js';
import type { senderCreateSchema, senderListQuery, senderPatchSchema, senderRetireSchema } from '../schemas/senders.js';

// Senders: the reps an account's emails go out as. Who an enrolment sends as is decided once, when
// its lead is enrolled (`sendersForEnrolment`), and changes only when its sender is retired with a
// sender to move to (`retireSender`).

export function toSenderDto(sender: SenderRow, account: Pick<Account, 'defaultSenderId'>) {
  return {
    id: sender.id,
    name: sender.name,
    email: sender.email,
    emailConfirmed: sender.emailConfirmedAt !== null,
    signature: sender.signature,
    timezone: sender.timezone,
    dailyCap: sender.dailyCap,
    status: sender.retiredAt ? ('retired' as const) : ('active' as const),
    isDefault: account.defaultSenderId === sender.id,
    retiredAt: sender.retiredAt?.toISOString() ?? null,
    protection: sender.protection ?? null,
    createdAt: sender.createdAt.toISOString(),
  };
}

export async function findSender(db: Db | Transaction, account: Pick<Account, 'id'>, id: string): Promise<SenderRow> {
  const row = await senderOrNull(db, account, id);
  if (!row) throw notFound('Sender');
  return row;
}

/** The account's default sender, or null when it has none. */
export async function defaultSenderOf(db: Db | Transaction, account: Pick<Account, 'id' | 'defaultSenderId'>): Promise<SenderRow | null> {
  return account.defaultSenderId ? senderOrNull(db, account, account.defaultSenderId) : null;
}

/** One of the account's senders, or null (a database error is an error, not "no sender"). */
export async function senderOrNull(db: Db | Transaction, account: Pick<Account, 'id'>, id: string): Promise<SenderRow | null> {
  const [row] = await db
    .select()
    .from(senders)
    .where(and(eq(senders.id, id), eq(senders.accountId, account.id)));
  return row ?? null;
}

export const emailTaken = (email: string, field = 'email') =>
  new ApiError(409, 'sender_email_taken', `Another live sender of this account already uses ${email}`, field);

/** Unique (account, lower(email)) among live senders: the index decides a race, answered as a 409. */
export const isUniqueViolation = (error: unknown) =>
  (error as { code?: string })?.code === '23505' || (error as { cause?: { code?: string } })?.cause?.code === '23505';

export async function createSender(db: Db, account: Account, input: z.infer<typeof senderCreateSchema>): Promise<SenderRow> {
  try {
    const [row] = await db
      .insert(senders)
      .values({
        accountId: account.id,
        name: input.name,
        email: input.email.toLowerCase(),
        signature: input.signature ?? '',
        timezone: input.timezone ?? null,
        dailyCap: input.dailyCap ?? null,
      })
      .returning();
    // The first sender of an account without one becomes its default.
    await db
      .update(accounts)
      .set({ defaultSenderId: row!.id })
      .where(and(eq(accounts.id, account.id), isNull(accounts.defaultSenderId)));
    return row!;
  } catch (error) {
    if (isUniqueViolation(error)) throw emailTaken(input.email);
    throw error;
  }
}

export async function listSenders(db: Db, account: Account, query: z.infer<typeof senderListQuery>) {
  const { where, orderBy } = keyset(query.cursor, senders.createdAt, senders.id, 'asc');
  const rows = await db
    .select()
    .from(senders)
    .where(
      and(
        eq(senders.accountId, account.id),
        query.status === 'active' ? isNull(senders.retiredAt) : query.status === 'retired' ? isNotNull(senders.retiredAt) : undefined,
        where,
      ),
    )
    .orderBy(...orderBy)
    .limit(query.limit + 1);
  return pageOf(rows, query.limit, (s) => ({ at: s.createdAt, id: s.id }));
}

/**
 * A sender named in a request (`field`) must be one of the account's, and live: a retired sender is
 * kept as it was, for the record of what went as them, and sends nothing more.
 */
function assertLive(row: SenderRow | undefined, id: string, field: string): SenderRow {
  if (!row) throw new ApiError(422, 'sender_not_found', `No sender ${id} in this account`, field);
  if (row.retiredAt) throw new ApiError(409, 'sender_retired', `The sender ${id} is retired; choose a live sender`, field);
  return row;
}

/** One of the account's senders, locked for a change of it (a change, a retirement). */
async function lockedSender(tx: Transaction, account: Pick<Account, 'id'>, id: string): Promise<SenderRow> {
  const [row] = await tx
    .select()
    .from(senders)
    .where(and(eq(senders.id, id), eq(senders.accountId, account.id)))
    .for('update');
  if (!row) throw notFound('Sender');
  return row;
}

/** Changes a sender; `capChanged` says whether their cap or the zone it counts in changed (what waits for it plans again). */
export async function updateSender(
  db: Db,
  account: Account,
  id: string,
  patch: z.infer<typeof senderPatchSchema>,
): Promise<{ sender: SenderRow; capChanged: boolean }> {
  return db.transaction(async (tx) => {
    const current = assertLive(await lockedSender(tx, account, id), id, 'senderId');
    const email = patch.email?.toLowerCase();
    // A new address has to be proven again before mail goes to it.
    const emailChanged = email !== undefined && email !== current.email?.toLowerCase();
    try {
      const [row] = await tx
        .update(senders)
        .set({
          ...patch,
          ...(email !== undefined ? { email } : {}),
          ...(emailChanged ? { emailConfirmedAt: null } : {}),
          updatedAt: new Date(),
        })
        .where(eq(senders.id, id))
        .returning();
      return { sender: row!, capChanged: row!.dailyCap !== current.dailyCap || row!.timezone !== current.timezone };
    } catch (error) {
      if (isUniqueViolation(error)) throw emailTaken(email!);
      throw error;
    }
  });
}

/** A live sender of the account, for a sequence's default, an enrolment or the account's default. */
export async function liveSender(db: Db | Transaction, account: Pick<Account, 'id'>, id: string, field = 'senderId'): Promise<SenderRow> {
  // Share-locked: in the transaction that makes them a default, a retirement waits for it (and
  // then clears the default) or commits first (and is seen here).
  const [row] = await db
    .select()
    .from(senders)
    .where(and(eq(senders.id, id), eq(senders.accountId, account.id)))
    .for('share');
  return assertLive(row, id, field);
}

/** Who the leads of one enrolment request send as: named per lead, round-robin, or the defaults. */
export interface SenderChoice {
  /** One sender for every lead of the request. */
  senderId?: string;
  /** Round-robin: each lead gets one of these in turn (a lead keeps a listed sender it had before). */
  senderIds?: string[];
  /** Per lead, overriding the two above. */
  leadSenders?: Record<string, string>;
}

export const hasChoice = (choice: SenderChoice) =>
  choice.senderId !== undefined || (choice.senderIds?.length ?? 0) > 0 || Object.keys(choice.leadSenders ?? {}).length > 0;

/**
 * The sender each lead is enrolled with: its own in `leadSenders`, else the round-robin's, else
 * `senderId`, else the sequence's default, else the account's (null when the account has none).
 * Every named sender must be a live sender of the account (422 sender_not_found, 409 sender_retired).
 */
export async function sendersForEnrolment(
  db: Db,
  account: Account,
  sequence: { senderId: string | null },
  leadIds: string[],
  choice: SenderChoice,
): Promise<{ senderOf: (leadId: string) => SenderRow | null; ids: string[] }> {
  if (choice.senderId !== undefined && choice.senderIds?.length) {
    throw new ApiError(422, 'validation_error', 'Give senderId (one sender) or senderIds (round-robin), not both', 'senderIds');
  }
  const requested = new Set(leadIds);
  const stray = Object.keys(choice.leadSenders ?? {}).find((leadId) => !requested.has(leadId));
  if (stray) throw new ApiError(422, 'validation_error', `leadSenders names ${stray}, which is not one of leadIds`, `leadSenders.${stray}`);
  const named = [
    ...new Set([
      ...(choice.senderId ? [choice.senderId] : []),
      ...(choice.senderIds ?? []),
      ...Object.values(choice.leadSenders ?? {}),
      ...(sequence.senderId ? [sequence.senderId] : []),
      ...(account.defaultSenderId ? [account.defaultSenderId] : []),
    ]),
  ];
  const rows = named.length
    ? await db
        .select()
        .from(senders)
        .where(and(eq(senders.accountId, account.id), inArray(senders.id, named)))
    : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const check = (id: string, field: string) => assertLive(byId.get(id), id, field);
  if (choice.senderId) check(choice.senderId, 'senderId');
  for (const id of choice.senderIds ?? []) check(id, 'senderIds');
  for (const [leadId, id] of Object.entries(choice.leadSenders ?? {})) check(id, `leadSenders.${leadId}`);
  // A default that was retired since is passed over (a retired sender is never a default for long:
  // retiring moves or clears it), down to the account's.
  const live = (id: string | null | undefined) => (id && byId.get(id) && !byId.get(id)!.retiredAt ? byId.get(id)! : null);
  const fallback = live(choice.senderId) ?? live(sequence.senderId) ?? live(account.defaultSenderId);

  let rotation = new Map<string, string>();
  if (choice.senderIds?.length) {
    // A lead keeps the listed sender of its latest enrolment in the account.
    const previous = await db
      .selectDistinctOn([enrolments.leadId], { leadId: enrolments.leadId, senderId: enrolments.senderId })
      .from(enrolments)
      .where(and(eq(enrolments.accountId, account.id), inArray(enrolments.leadId, [...new Set(leadIds)]), isNotNull(enrolments.senderId)))
      .orderBy(enrolments.leadId, sql`${enrolments.enrolledAt} desc`);
    const previousOf = new Map(previous.map((p) => [p.leadId, p.senderId!]));
    const unnamed = leadIds.filter((id) => !choice.leadSenders?.[id]);
    rotation = roundRobinSenders(unnamed, choice.senderIds, previousOf);
  }
  const senderOf = (leadId: string) => {
    const id = choice.leadSenders?.[leadId] ?? rotation.get(leadId);
    return id ? byId.get(id)! : fallback;
  };
  // Only the senders leads are bound to are locked and re-checked: a default nobody gets is no reason to refuse.
  const ids = [...new Set(leadIds.map((leadId) => senderOf(leadId)?.id).filter((id): id is string => !!id))];
  return { senderOf, ids };
}

/**
 * Under the senders' share locks, in the enrolment's transaction: a sender retired since it was
 * chosen (a retirement committed meanwhile) refuses the request instead of binding leads to it.
 */
export async function lockSendersForEnrolment(tx: Transaction, ids: string[]): Promise<void> {
  if (!ids.length) return;
  const rows = await tx.select({ id: senders.id, retiredAt: senders.retiredAt }).from(senders).where(inArray(senders.id, ids)).for('share');
  const gone = rows.find((r) => r.retiredAt);
  if (gone) throw new ApiError(409, 'sender_retired', `The sender ${gone.id} was retired meanwhile; choose a live sender`, 'senderId');
}

/**
 * Retires a sender: nothing more goes out as them. Their live enrolments are paused (each with the
 * reason on its timeline) or moved to `moveTo`, who also takes over the sequences that defaulted to
 * them (with pause, those fall back to the account's default). The account's default sender can only
 * be retired with a sender to move to, who becomes the default. Sent messages keep naming them.
 */
export async function retireSender(
  deps: { db: Db; temporal: Client; config: Pick<Config, 'TEMPORAL_TASK_QUEUE'> },
  account: Account,
  id: string,
  request: z.infer<typeof senderRetireSchema>,
) {
  const { db } = deps;
  if (request.moveTo !== undefined && request.liveEnrolments !== 'move') {
    throw new ApiError(422, 'validation_error', 'moveTo goes with liveEnrolments: "move"', 'moveTo');
  }
  if (request.liveEnrolments === 'move' && !request.moveTo) {
    throw new ApiError(422, 'validation_error', 'liveEnrolments "move" needs moveTo, the sender who takes them over', 'moveTo');
  }
  if (request.moveTo === id) throw new ApiError(422, 'validation_error', 'moveTo must be another sender', 'moveTo');
  const outcome = await db.transaction(async (tx) => {
    const sender = await lockedSender(tx, account, id);
    const target = request.moveTo ? await liveSender(tx, account, request.moveTo, 'moveTo') : null;
    const [liveCount] = await tx
      .select({ n: count() })
      .from(enrolments)
      .where(and(eq(enrolments.senderId, id), isLiveEnrolment()));
    const live = liveCount?.n ?? 0;
    if (live > 0 && !request.liveEnrolments) {
      throw new ApiError(
        409,
        'sender_has_live_enrolments',
        `The sender has ${live} live enrolment(s): say whether to pause them or move them to another sender (liveEnrolments)`,
        'liveEnrolments',
      );
    }
    const [current] = await tx
      .select({ defaultSenderId: accounts.defaultSenderId })
      .from(accounts)
      .where(eq(accounts.id, account.id))
      .for('update');
    if (current?.defaultSenderId === id) {
      if (!target) {
        throw new ApiError(
          409,
          'sender_is_account_default',
          'This is the account’s default sender: retire it with liveEnrolments "move" and moveTo, who becomes the default, or set another default first',
          'moveTo',
        );
      }
      await tx.update(accounts).set({ defaultSenderId: target.id, updatedAt: new Date() }).where(eq(accounts.id, account.id));
    }
    const sequencesMoved = await tx
      .update(sequences)
      .set({ senderId: target?.id ?? null, updatedAt: new Date() })
      .where(and(eq(sequences.accountId, account.id), eq(sequences.senderId, id)))
      .returning({ id: sequences.id });
    let moved = 0;
    if (target) {
      const movedRows = await tx
        .update(enrolments)
        .set({ senderId: target.id, updatedAt: new Date() })
        .where(and(eq(enrolments.senderId, id), isLiveEnrolment()))
        .returning({ id: enrolments.id });
      moved = movedRows.length;
      const from = storableLine(sender.name || sender.email || sender.id, 200);
      const to = storableLine(target.name || target.email || target.id, 200);
      for (let i = 0; i < movedRows.length; i += 5_000) {
        await tx.insert(enrolmentEvents).values(
          movedRows.slice(i, i + 5_000).map((r) => ({
            accountId: account.id,
            enrolmentId: r.id,
            type: 'sender_changed',
            detail: { fromSenderId: id, toSenderId: target.id, reason: `${from} was retired; ${to} takes over` },
          })),
        );
      }
    }
    const [row] = sender.retiredAt
      ? [sender]
      : await tx.update(senders).set({ retiredAt: new Date(), updatedAt: new Date() }).where(eq(senders.id, id)).returning();
    return { sender: row!, moved, paused: target ? 0 : live, sequencesMoved: sequencesMoved.length, target };
  });
  const reason = `the sender ${storableLine(outcome.sender.name || outcome.sender.email || id, 200)} was retired`;
  // After the commit: the retirement is what every plan and send reads (a retired sender sends
  // nothing), and the broadcast makes each workflow show it now rather than at its next due step.
  if (outcome.paused) await startSenderBroadcast(deps, { senderOf: { accountId: account.id, senderId: id }, signal: 'pause', reason });
  if (outcome.target) {
    await startSenderBroadcast(deps, { senderOf: { accountId: account.id, senderId: outcome.target.id }, signal: 'reschedule', reason });
  }
  const [fresh] = await db.select({ defaultSenderId: accounts.defaultSenderId }).from(accounts).where(eq(accounts.id, account.id));
  return { ...outcome, defaultSenderId: fresh?.defaultSenderId ?? null };
}

/**
 * A person resumes a sender the breaker paused: the trip is marked resumed (its grace period
 * starts) in one statement, against the row as it is then. Answers the trip it resumed, or null
 * when there was none to resume (the request is then a no-op, as a repeat of it is).
 */
export async function resumeSender(
  db: Db,
  account: Pick<Account, 'id'>,
  id: string,
): Promise<{ sender: SenderRow; resumed: ProtectionTrip | null }> {
  const current = await findSender(db, account, id);
  const now = new Date();
  const [updated] = await db
    .update(senders)
    .set({
      protection: sql`jsonb_set(${senders.protection}, '{resumedAt}', to_jsonb(${now.toISOString()}::text))`,
      updatedAt: now,
    })
    .where(
      and(
        eq(senders.id, id),
        eq(senders.accountId, account.id),
        isNotNull(senders.protection),
        sql`${senders.protection}->>'resumedAt' is null`,
      ),
    )
    .returning();
  if (!updated) return { sender: current, resumed: null };
  return { sender: updated, resumed: { ...updated.protection!, resumedAt: null } };
}
