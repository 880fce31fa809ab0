import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadEnrolmentContext } from '../activities/enrolment-context.js';
import { messageRow, renderStepEmail, stepIdempotencyKey, storeIfUnchanged } from '../activities/send-email.js';
import { loadConfig } from '../config.js';
import { emailStoreFallbacks } from '../metrics.js';
import { createAccount } from '../db/accounts.js';
import { openDatabase, rowsOf, type Database } from '../db/client.js';
import { accounts, enrolments, leads, messages, sequences, steps } from '../db/schema.js';

// A step's email with nothing to choose, count or ask under a lock is decided from its context
// read without one, then stored by one statement that holds only if that context, read again
// under the enrolment's lock, is unchanged. Whatever changed in between, it stores nothing, and
// the locked transaction decides again.

let database: Database;
const config = loadConfig({});

beforeAll(async () => {
  database = await openDatabase({ url: inject('databaseUrl'), dataDir: '.data', poolSize: 3 }); // a transaction, the store it blocks, and a look at what waits
});
afterAll(async () => {
  await database?.close();
});

/** An active enrolment in a one-step sequence, due now, of a lead of its own. */
async function dueEnrolment() {
  const db = database.db;
  const { account } = await createAccount(db, { name: `store ${randomUUID().slice(0, 8)}` });
  const [sequence] = await db.insert(sequences).values({ accountId: account.id, name: 'one step', status: 'active' }).returning();
  const [step] = await db
    .insert(steps)
    .values({ accountId: account.id, sequenceId: sequence!.id, position: 1, subject: 'Hello', body: 'Hi {{ first_name }}' })
    .returning();
  const [lead] = await db
    .insert(leads)
    .values({ accountId: account.id, email: `${randomUUID()}@example.com`, firstName: 'Ada' })
    .returning();
  const [enrolment] = await db
    .insert(enrolments)
    .values({
      accountId: account.id,
      sequenceId: sequence!.id,
      leadId: lead!.id,
      replyToken: randomUUID().replaceAll('-', ''),
      status: 'active',
    })
    .returning();
  return { account, sequence: sequence!, step: step!, lead: lead!, enrolment: enrolment! };
}

/** Reads the context as a send does, renders its email and returns how to store it later. */
async function decided(enrolmentId: string, stepId: string, unset: string[] = []) {
  const key = stepIdempotencyKey(enrolmentId, stepId);
  const ctx = (await loadEnrolmentContext(database.db, enrolmentId, { messageKey: key }))!;
  const rendered = await renderStepEmail(config, ctx, { variant: null, thread: null });
  const row = messageRow({ ctx, stepId, key, rendered, variant: null, at: new Date(), storesOwnMessageId: false });
  for (const column of unset) (row as Record<string, unknown>)[column] = undefined;
  return { key, store: () => storeIfUnchanged(database.db, row, ctx) };
}

const fallbacksCounted = async () => (await emailStoreFallbacks.get()).values[0]?.value ?? 0;

/** Sessions blocked by the session `holder` (a backend pid): only ours, whatever else runs. */
const blockedBy = async (holder: number) =>
  Number(
    rowsOf<{ n: string }>(
      await database.db.execute(sql`select count(*) as n from pg_stat_activity where pg_blocking_pids(pid) @> array[${holder}::int]`),
    )[0]!.n,
  );

async function until(check: () => Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`not within 5 s: ${what}`);
}

const storedUnder = async (key: string) => database.db.select().from(messages).where(eq(messages.idempotencyKey, key));

describe('an email stored in one statement', () => {
  it('is stored, as it was rendered, when nothing changed since its context was read', async () => {
    const { enrolment, step, lead } = await dueEnrolment();
    const { key, store } = await decided(enrolment.id, step.id);
    const message = await store();
    expect(message).toMatchObject({ idempotencyKey: key, status: 'sending', toEmail: lead.email, stepId: step.id });
    expect(message!.html).toContain('Hi Ada');
    expect(await storedUnder(key)).toHaveLength(1);
  });

  const changes: [string, (e: Awaited<ReturnType<typeof dueEnrolment>>) => Promise<unknown>][] = [
    ['the lead unsubscribed', ({ lead }) => database.db.update(leads).set({ unsubscribedAt: new Date() }).where(eq(leads.id, lead.id))],
    [
      'the enrolment was paused',
      ({ enrolment }) => database.db.update(enrolments).set({ status: 'paused' }).where(eq(enrolments.id, enrolment.id)),
    ],
    ['the step was edited', ({ step }) => database.db.update(steps).set({ body: 'Something else' }).where(eq(steps.id, step.id))],
    [
      'the sequence was paused',
      ({ sequence }) => database.db.update(sequences).set({ status: 'paused' }).where(eq(sequences.id, sequence.id)),
    ],
    [
      'the account set a daily cap',
      ({ account }) =>
        database.db
          .update(accounts)
          .set({ limits: { ...account.limits, maxEmailsPerDay: 1 } })
          .where(eq(accounts.id, account.id)),
    ],
    [
      'a step was added before it',
      ({ account, sequence }) =>
        database.db.insert(steps).values({ accountId: account.id, sequenceId: sequence.id, position: 0, subject: 'First', body: 'First' }),
    ],
  ];
  for (const [change, make] of changes) {
    it(`is not stored when ${change} since its context was read`, async () => {
      const due = await dueEnrolment();
      const { key, store } = await decided(due.enrolment.id, due.step.id);
      await make(due);
      const fallbacks = await fallbacksCounted();
      expect(await store()).toBeUndefined();
      expect(await fallbacksCounted()).toBe(fallbacks + 1); // the locked transaction decides it, and /metrics says so
      expect(await storedUnder(key)).toHaveLength(0);
    });
  }

  it('takes the default of a column the row leaves undefined, as the locked insert does', async () => {
    const { enrolment, step } = await dueEnrolment();
    const { key, store } = await decided(enrolment.id, step.id, ['rfcMessageId', 'variantId']);
    expect(await store()).toMatchObject({ idempotencyKey: key, rfcMessageId: null, variantId: null });
  });

  it('waits for a transaction holding the enrolment, and is not stored when that one changed it', async () => {
    const due = await dueEnrolment();
    const { key, store } = await decided(due.enrolment.id, due.step.id);
    let storing: Promise<unknown> | undefined;
    let settledEarly = false;
    // Another connection holds the enrolment's row lock (as a locked send or an update does),
    // pauses it, and commits only once the guarded store is waiting on that lock.
    await database.db.transaction(async (tx) => {
      const [{ pid }] = rowsOf<{ pid: number }>(await tx.execute(sql`select pg_backend_pid() as pid`)) as [{ pid: number }];
      await tx.execute(sql`select id from enrolments where id = ${due.enrolment.id} for update`);
      await tx.update(enrolments).set({ status: 'paused' }).where(eq(enrolments.id, due.enrolment.id));
      storing = store().finally(() => (settledEarly = true));
      await until(async () => (await blockedBy(pid)) > 0, 'the guarded store waits on the enrolment lock');
      expect(settledEarly).toBe(false);
    });
    expect(await storing).toBeUndefined();
    expect(await storedUnder(key)).toHaveLength(0);
  });

  it('is not stored twice when an overlapping attempt stored it first', async () => {
    const { enrolment, step } = await dueEnrolment();
    const first = await decided(enrolment.id, step.id);
    const second = await decided(enrolment.id, step.id);
    expect(await first.store()).toBeDefined();
    expect(await second.store()).toBeUndefined();
    expect(await storedUnder(first.key)).toHaveLength(1);
  });
});
