import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { leads, messages, senders, stepVariants } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';

/**
 * Issue 14 §2: the test send was an open relay. A test copy goes only to the account's own
 * sender address, once the account has proved it reads it; it carries what every email carries
 * and counts against the daily cap. One-off emails honour the cap too.
 */
let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink());
});
afterAll(() => started?.stop());

const emailsTo = (address: string) =>
  sink.emails.filter((e) => e.payload.to === address || (Array.isArray(e.payload.to) && e.payload.to.includes(address)));
const ownAddress = () => `owner-${Date.now()}-${Math.random().toString(36).slice(2)}@acme.test`;

async function accountWithStep(values: Record<string, unknown> = {}) {
  const fixture = await asNewAccount(service, { senderEmail: ownAddress(), ...values });
  const sequence = await fixture.createSequence({ steps: [{ subject: 'Hi {{ first_name }}' }] });
  const sendTest = (body: Record<string, unknown> = {}) =>
    fixture.api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}/test`, body);
  return { ...fixture, sequence, sendTest };
}

describe('a test copy of a step', () => {
  it('is refused while the sender address is unconfirmed, and nothing is sent', async () => {
    const { account, sendTest } = await accountWithStep();
    const res = await sendTest();
    expect([res.status, res.body.error.code]).toEqual([422, 'sender_email_unconfirmed']);
    expect(emailsTo(account.senderEmail!)).toEqual([]);
  });

  it('never goes to an address other than the confirmed sender address', async () => {
    const { sendTest } = await accountWithStep({ senderEmailConfirmedAt: new Date() });
    const res = await sendTest({ to: 'victim@elsewhere.test' });
    expect([res.status, res.body.error.code, res.body.error.field]).toEqual([422, 'test_recipient_not_allowed', 'to']);
    expect(emailsTo('victim@elsewhere.test')).toEqual([]);
  });

  it('goes to the confirmed sender address with the footer and unsubscribe headers of a real email', async () => {
    const { account, sendTest } = await accountWithStep({ senderEmailConfirmedAt: new Date() });
    const res = await sendTest();
    expect([res.status, res.body.to]).toEqual([202, account.senderEmail]);
    const [email] = emailsTo(account.senderEmail!);
    expect(email!.payload.subject).toBe('[Test] Hi Alex');
    expect(email!.payload.headers!['List-Unsubscribe']).toMatch(/^<https:\/\/sequences\.test\/u\//);
    expect(email!.payload.headers!['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
  });

  it('counts against the daily cap, and over it nothing is sent', async () => {
    const { account, sendTest } = await accountWithStep({
      senderEmailConfirmedAt: new Date(),
      limits: { maxSequences: null, maxStepsPerSequence: null, maxActiveEnrolments: null, maxEmailsPerDay: 1 },
    });
    expect((await sendTest()).status).toBe(202);
    const second = await sendTest();
    expect([second.status, second.body.error.code]).toEqual([429, 'daily_cap_reached']);
    expect(emailsTo(account.senderEmail!)).toHaveLength(1);
  });

  it('counts emails the provider has since reported delivered or bounced', async () => {
    const { account, sendTest, createLead } = await accountWithStep({
      senderEmailConfirmedAt: new Date(),
      limits: { maxSequences: null, maxStepsPerSequence: null, maxActiveEnrolments: null, maxEmailsPerDay: 2 },
    });
    const lead = await createLead();
    for (const status of ['delivered', 'bounced'] as const) {
      await service.database.db.insert(messages).values({
        accountId: account.id,
        leadId: lead.id,
        idempotencyKey: `cap-${status}-${lead.id}`,
        toEmail: lead.email,
        fromEmail: 'x@acme.test',
        subject: 's',
        html: 'h',
        text: 't',
        status,
      });
    }
    const res = await sendTest();
    expect([res.status, res.body.error?.code]).toEqual([429, 'daily_cap_reached']);
  });

  it('is not sent to an address that unsubscribed from this account', async () => {
    const { account, sendTest, createLead } = await accountWithStep({ senderEmailConfirmedAt: new Date() });
    const lead = await createLead({ email: account.senderEmail });
    await service.database.db.update(leads).set({ unsubscribedAt: new Date() }).where(eq(leads.id, lead.id));
    const res = await sendTest();
    expect([res.status, res.body.error.code]).toEqual([422, 'recipient_suppressed']);
    expect(emailsTo(account.senderEmail!)).toEqual([]);
  });
});

describe('a test copy or preview of one variant of a step', () => {
  async function withVariant() {
    const fixture = await accountWithStep({ senderEmailConfirmedAt: new Date() });
    const step = fixture.sequence.steps[0]!;
    const [variant] = await service.database.db
      .insert(stepVariants)
      .values({ accountId: fixture.account.id, stepId: step.id, label: 'B', subject: 'Variant B for {{ first_name }}', body: 'Body B' })
      .returning();
    return { ...fixture, step, variant: variant! };
  }

  it('goes with the variant’s subject and body', async () => {
    const { account, sendTest, variant } = await withVariant();
    expect((await sendTest({ variantId: variant.id })).status).toBe(202);
    const [email] = emailsTo(account.senderEmail!);
    expect(email!.payload.subject).toBe('[Test] Variant B for Alex');
  });

  it('previews the variant as it would be sent', async () => {
    const { api, sequence, step, variant } = await withVariant();
    const res = await api('POST', `/v1/sequences/${sequence.id}/steps/${step.id}/preview`, { variantId: variant.id });
    expect([res.status, res.body.subject]).toEqual([200, 'Variant B for Alex']);
  });

  it('refuses a variant of another step, naming the field, and sends nothing', async () => {
    const { account, sendTest } = await withVariant();
    const other = await withVariant();
    const res = await sendTest({ variantId: other.variant.id });
    expect([res.status, res.body.error.field]).toEqual([404, 'variantId']);
    expect(emailsTo(account.senderEmail!)).toEqual([]);
  });
});

describe('confirming the sender address', () => {
  const linkIn = (text: string) => /https:\/\/sequences\.test(\/confirm-sender\/[^\s]+)/.exec(text)?.[1];
  const confirmedAt = async (accountId: string) =>
    (await service.database.db.select().from(senders).where(eq(senders.accountId, accountId)))[0]!.emailConfirmedAt;

  it('sends a signed link to the address; its page confirms only when its button is pressed', async () => {
    const { account, api, sendTest } = await accountWithStep();
    const asked = await api('POST', '/v1/account/sender-email/confirmation');
    expect([asked.status, asked.body.to]).toEqual([202, account.senderEmail]);
    const link = linkIn(String(emailsTo(account.senderEmail!)[0]!.payload.text));
    expect(link).toBeDefined();

    const page = await fetch(`${service.baseUrl}${link}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Confirm this address');
    // A mail scanner opening the link confirms nothing.
    expect(await confirmedAt(account.id)).toBeNull();

    const confirmed = await fetch(`${service.baseUrl}${link}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(confirmed.status).toBe(200);
    expect(await confirmedAt(account.id)).not.toBeNull();
    expect((await sendTest()).status).toBe(202);
  });

  it('sends at most one link per ten minutes', async () => {
    const { api } = await accountWithStep();
    expect((await api('POST', '/v1/account/sender-email/confirmation')).status).toBe(202);
    const again = await api('POST', '/v1/account/sender-email/confirmation');
    expect([again.status, again.body.error.code]).toEqual([429, 'confirmation_recently_sent']);
  });

  it('reaches one address at most three times a day, whichever accounts ask, and names no account', async () => {
    const address = ownAddress();
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const { api } = await asNewAccount(service, { senderEmail: address, name: `Claim your prize at evil.test ${i}` });
      answers.push(await api('POST', '/v1/account/sender-email/confirmation'));
    }
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 429]);
    expect(answers[3]!.body.error.code).toBe('confirmation_limit_reached');
    expect(emailsTo(address)).toHaveLength(3);
    for (const email of emailsTo(address)) expect(JSON.stringify(email.payload)).not.toContain('evil.test');
  });

  it('refuses a link signed for an address the account no longer has', async () => {
    const { account, api } = await accountWithStep();
    await api('POST', '/v1/account/sender-email/confirmation');
    const link = linkIn(String(emailsTo(account.senderEmail!)[0]!.payload.text))!;
    expect((await api('PATCH', '/v1/account', { senderEmail: ownAddress() })).status).toBe(200);
    const res = await fetch(`${service.baseUrl}${link}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(res.status).toBe(400);
    expect(await confirmedAt(account.id)).toBeNull();
  });

  it('refuses a forged link', async () => {
    const { account } = await accountWithStep();
    const res = await fetch(`${service.baseUrl}/confirm-sender/${account.id}.9999999999.forgedsignatureforgedsignatureab`, {
      method: 'POST',
    });
    expect(res.status).toBe(400);
    expect(await confirmedAt(account.id)).toBeNull();
  });
});

describe('a one-off email over the daily cap', () => {
  it('waits for the next day instead of going out', async () => {
    const fixture = await asNewAccount(service, {
      limits: { maxSequences: null, maxStepsPerSequence: null, maxActiveEnrolments: null, maxEmailsPerDay: 1 },
    });
    const lead = await fixture.createLead();
    const first = await fixture.api('POST', `/v1/leads/${lead.id}/emails`, { subject: 'One', body: 'First' });
    await eventually(async () => (await fixture.api('GET', `/v1/emails/${first.body.id}`)).body.status === 'sent', {
      what: 'the first one-off sent',
    });
    const second = await fixture.api('POST', `/v1/leads/${lead.id}/emails`, { subject: 'Two', body: 'Second' });
    const handle = service.temporal.workflow.getHandle(`one-off-${second.body.id}`);
    // Postponed: the workflow sleeps until the account's next day.
    await eventually(async () => (await handle.fetchHistory()).events?.some((e) => e.timerStartedEventAttributes), {
      what: 'the second one-off postponed',
    });
    expect((await fixture.api('GET', `/v1/emails/${second.body.id}`)).body.status).toBe('queued');
    expect(emailsTo(lead.email).map((e) => e.payload.subject)).toEqual(['One']);
  });
});
