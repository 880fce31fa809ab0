import { randomUUID } from 'node:crypto';
import { and, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAccount } from '../db/accounts.js';
import { openDatabase, type Database } from '../db/client.js';
import { isLiveEnrolment, leadSuppressedSql, replyUnhandledSql } from '../db/enrolment-queries.js';
import { enrolments, leads, sequences } from '../db/schema.js';
import { ENROLMENT_STATUSES, isLive } from '../domain/enrolment-status.js';
import { replyUnhandled, suppressionOf } from '../domain/suppression.js';

// The SQL twins of domain rules (db/enrolment-queries.ts) must answer as the pure functions do,
// on the real PostgreSQL: the same question asked in two languages.

let database: Database;
let accountId: string;
let sequenceId: string;

beforeAll(async () => {
  database = await openDatabase({ url: inject('databaseUrl'), dataDir: '.data', poolSize: 2 });
  const { account } = await createAccount(database.db, { name: 'queries' });
  accountId = account.id;
  const [sequence] = await database.db.insert(sequences).values({ accountId, name: 'twins' }).returning();
  sequenceId = sequence!.id;
});
afterAll(async () => {
  await database?.close();
});

/** One enrolment per case, each of its own lead (a lead has one live enrolment per sequence). */
async function enrolmentsLike(cases: { status?: (typeof ENROLMENT_STATUSES)[number]; repliedAt?: Date | null; resumedAt?: Date | null }[]) {
  const leadRows = await database.db
    .insert(leads)
    .values(cases.map(() => ({ accountId, email: `${randomUUID()}@example.com` })))
    .returning({ id: leads.id });
  return database.db
    .insert(enrolments)
    .values(
      cases.map((c, i) => ({
        accountId,
        sequenceId,
        leadId: leadRows[i]!.id,
        replyToken: randomUUID().replaceAll('-', ''),
        status: c.status ?? 'active',
        repliedAt: c.repliedAt ?? null,
        resumedAt: c.resumedAt ?? null,
      })),
    )
    .returning();
}

describe('the database and the domain rules', () => {
  it('agree on whether a reply waits to be handled', async () => {
    const day = (d: number) => new Date(Date.UTC(2026, 0, d));
    const rows = await enrolmentsLike([
      {},
      { repliedAt: day(2) },
      { repliedAt: day(2), resumedAt: day(3) },
      { repliedAt: day(4), resumedAt: day(3) },
      { resumedAt: day(3) },
    ]);
    const ids = rows.map((r) => r.id);
    const matched = await database.db
      .select({ id: enrolments.id })
      .from(enrolments)
      .where(and(inArray(enrolments.id, ids), replyUnhandledSql()));
    expect(new Set(matched.map((m) => m.id))).toEqual(new Set(rows.filter(replyUnhandled).map((r) => r.id)));
    expect(matched).toHaveLength(2);
  });

  it('agree on which statuses are live', async () => {
    const rows = await enrolmentsLike(ENROLMENT_STATUSES.map((status) => ({ status })));
    const matched = await database.db
      .select({ status: enrolments.status })
      .from(enrolments)
      .where(
        and(
          inArray(
            enrolments.id,
            rows.map((r) => r.id),
          ),
          isLiveEnrolment(),
        ),
      );
    expect(matched.map((m) => m.status).sort()).toEqual(ENROLMENT_STATUSES.filter(isLive).sort());
  });

  it('agree on whether a lead is suppressed (unsubscribed, bounced, do not contact), the missing address aside', async () => {
    const at = new Date('2026-01-02T00:00:00Z');
    const cases = [
      {},
      { unsubscribedAt: at },
      { bouncedAt: at },
      { doNotContactAt: at },
      { unsubscribedAt: at, doNotContactAt: at },
      { email: null },
      { email: null, doNotContactAt: at },
    ];
    const rows = await database.db
      .insert(leads)
      .values(cases.map((c) => ({ accountId, email: `${randomUUID()}@example.com`, ...c })))
      .returning();
    const matched = await database.db
      .select({ id: leads.id })
      .from(leads)
      .where(
        and(
          inArray(
            leads.id,
            rows.map((r) => r.id),
          ),
          leadSuppressedSql(),
        ),
      );
    const suppressed = rows.filter((r) => {
      const s = suppressionOf(r);
      return s !== null && s !== 'no_email';
    });
    expect(new Set(matched.map((m) => m.id))).toEqual(new Set(suppressed.map((r) => r.id)));
    expect(matched).toHaveLength(5);
  });
});
