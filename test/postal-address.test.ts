import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolments } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startService, testConfig, type TestService } from './helpers/service.js';

// Issue 18: CAN-SPAM requires a valid postal address in every commercial email, and a sequence's
// emails are commercial. Without one the footer used to omit it silently; now nothing starts.

let service: TestService;
beforeAll(async () => {
  service = await startService({ config: await testConfig() });
});
afterAll(() => service?.stop());

const enrolmentsOf = (sequenceId: string) => service.database.db.select().from(enrolments).where(eq(enrolments.sequenceId, sequenceId));

describe('an account without a postal address', () => {
  it('cannot enrol a lead: the refusal names the missing setting, and nothing is written', async () => {
    const acme = await asNewAccount(service, { postalAddress: '' });
    const sequence = await acme.createSequence();
    const lead = await acme.createLead();
    const one = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id });
    expect(one.status).toBe(422);
    expect(one.body.error).toMatchObject({ code: 'postal_address_required', field: 'postalAddress' });
    expect(one.body.error.message).toContain('PATCH /v1/account');
    const bulk = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds: [lead.id] });
    expect(bulk.status).toBe(422);
    expect(bulk.body.error.code).toBe('postal_address_required');
    expect(await enrolmentsOf(sequence.id)).toEqual([]);
  });

  it('enrols once the address is set, and its emails carry it', async () => {
    const acme = await asNewAccount(service, { postalAddress: '' });
    expect((await acme.api('PATCH', '/v1/account', { postalAddress: '   ' })).body.postalAddress).toBe('');
    expect((await acme.api('PATCH', '/v1/account', { postalAddress: '5 Harbour Road, Leith' })).status).toBe(200);
    const sequence = await acme.createSequence();
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    await acme.waitForStatus(id, 'completed');
    const [message] = await acme.sentMessages(id);
    expect(message!.html).toContain('5 Harbour Road, Leith');
    expect(message!.text).toContain('5 Harbour Road, Leith');
  });
});

describe('clearing the postal address', () => {
  it('is refused while enrolments are live, and allowed once none are', async () => {
    const acme = await asNewAccount(service);
    const sequence = await acme.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
    const { id } = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    const refused = await acme.api('PATCH', '/v1/account', { postalAddress: '' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'postal_address_in_use', field: 'postalAddress' });
    expect((await acme.api('GET', '/v1/account')).body.postalAddress).toBe('1 Test Street, Testville');
    await acme.api('POST', `/v1/enrolments/${id}/stop`);
    await acme.waitForStatus(id, 'stopped');
    expect((await acme.api('PATCH', '/v1/account', { postalAddress: '' })).status).toBe(200);
  });
});
