import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { enrolmentBatches, enrolments } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startService, type TestService } from './helpers/service.js';

/**
 * Issue 14 §6: requests that race. A portal that times out and retries at once, or sends the same
 * bulk enrolment from two servers, must get one result for one Idempotency-Key.
 */
let service: TestService;
beforeAll(async () => {
  service = await startService();
});
afterAll(() => service.stop());

async function sequenceWithLeads(n: number) {
  const fixture = await asNewAccount(service);
  const sequence = await fixture.createSequence({ steps: [{ delay: { amount: 3, unit: 'days' } }] });
  const leads = await Promise.all(Array.from({ length: n }, () => fixture.createLead()));
  const bulk = (leadIds: string[], key: string) =>
    fixture.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds }, { 'idempotency-key': key });
  return { ...fixture, sequence, leadIds: leads.map((l) => l.id), bulk };
}

describe('ten identical bulk enrolments sent at once with one Idempotency-Key', () => {
  it('all answer the same result, and every lead is enrolled once', async () => {
    const { sequence, leadIds, bulk } = await sequenceWithLeads(20);
    const answers = await Promise.all(Array.from({ length: 10 }, () => bulk(leadIds, 'same-key')));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    for (const answer of answers) expect(answer.body).toEqual(answers[0]!.body);
    expect(answers[0]!.body.enrolled).toBe(20);
    const [row] = await service.database.db.select({ n: count() }).from(enrolments).where(eq(enrolments.sequenceId, sequence.id));
    expect(row!.n).toBe(20);
    const batches = await service.database.db.select().from(enrolmentBatches).where(eq(enrolmentBatches.sequenceId, sequence.id));
    expect(batches).toHaveLength(1);
  });
});

describe('an Idempotency-Key used again with a different request', () => {
  it('is refused with 422 and changes nothing', async () => {
    const { sequence, leadIds, bulk } = await sequenceWithLeads(3);
    expect((await bulk(leadIds.slice(0, 2), 'reused-key')).status).toBe(200);
    const other = await bulk(leadIds, 'reused-key');
    expect([other.status, other.body.error?.code, other.body.error?.field]).toEqual([422, 'idempotency_key_reused', 'Idempotency-Key']);
    const [row] = await service.database.db.select({ n: count() }).from(enrolments).where(eq(enrolments.sequenceId, sequence.id));
    expect(row!.n).toBe(2);
  });

  it('is refused with 422 when the same leads go to another sequence', async () => {
    const { leadIds, bulk, createSequence, api } = await sequenceWithLeads(2);
    expect((await bulk(leadIds, 'another-sequence-key')).status).toBe(200);
    const second = await createSequence();
    const res = await api('POST', `/v1/sequences/${second.id}/enrolments/bulk`, { leadIds }, { 'idempotency-key': 'another-sequence-key' });
    expect([res.status, res.body.error?.code]).toEqual([422, 'idempotency_key_reused']);
  });
});
