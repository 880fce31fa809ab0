import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { accounts, leads } from '../db/schema.js';
import { enrolmentWorkflowId, stateQuery } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { sendsInHistory } from './helpers/history.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startService, startServiceWithSink, testConfig, type ServiceWithSink, type TestService } from './helpers/service.js';

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;

beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink());
});
afterAll(() => started?.stop());

const emailsTo = (address: string) =>
  sink.emails.filter((e) => e.payload.to === address || (Array.isArray(e.payload.to) && e.payload.to.includes(address)));
const requestsFor = (key: string) => sink.requests.filter((r) => r.key === key);

async function enrolledInOneStep(accountValues: Record<string, unknown> = {}, leadValues: Record<string, unknown> = {}) {
  const fixture = await asNewAccount(service, {
    senderName: 'Sam Seller',
    companyName: 'Acme Ltd',
    postalAddress: '1 Main St',
    ...accountValues,
  });
  const sequence = await fixture.createSequence({
    steps: [{ subject: 'Hello {{ first_name }}', body: 'Hi {{ first_name }}, nice to meet you.' }],
  });
  const lead = await fixture.createLead({ firstName: 'Grace', ...leadValues });
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  return { ...fixture, sequence, lead, enrolment };
}

describe('an email sent through Resend', () => {
  it('goes from the user’s name, replies route back to the enrolment, and it carries unsubscribe headers and id tags', async () => {
    const { lead, enrolment, sequence, account, waitForStatus } = await enrolledInOneStep();
    await waitForStatus(enrolment.id, 'completed');
    const [email] = emailsTo(lead.email);
    expect(email).toBeDefined();
    const { payload } = email!;
    expect(payload.from).toBe('"Sam Seller" <sequences@mail.example.com>');
    expect(payload.subject).toBe('Hello Grace');
    expect(payload.reply_to).toMatch(/^r-[A-Za-z0-9_-]+@reply\.example\.com$/);
    expect(payload.headers!['List-Unsubscribe']).toMatch(/^<https:\/\/sequences\.test\/u\/[0-9a-f-]{36}\.[A-Za-z0-9_-]+>, <mailto:/);
    expect(payload.headers!['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(Object.fromEntries(payload.tags!.map((t) => [t.name, t.value]))).toMatchObject({
      account_id: account.id,
      sequence_id: sequence.id,
      step_id: sequence.steps[0]!.id,
      enrolment_id: enrolment.id,
    });
    expect(payload.html).toContain('1 Main St');
    expect(payload.text).toContain('Hi Grace, nice to meet you.');
    expect(email!.idempotencyKey).toBe(`enrolment-${enrolment.id}-step-${sequence.steps[0]!.id}`);
  });

  it('goes from the account’s own domain once it is verified', async () => {
    const fixture = await asNewAccount(service, { senderName: 'Sam Seller', senderEmail: 'sam@acme.test' });
    const added = await fixture.api('POST', '/v1/account/domain', { domain: 'acme.test' });
    expect(added.status).toBe(201);
    expect(added.body.records.map((r: { type: string }) => r.type)).toEqual(['MX', 'TXT', 'TXT']);
    const pending = await fixture.api('POST', '/v1/account/domain/verify');
    expect(pending.body).toMatchObject({ status: 'pending', verified: false });
    const [account] = await service.database.db.select().from(accounts).where(eq(accounts.id, fixture.account.id));
    sink.domainStatus.set(account!.sendingDomainId!, 'verified');
    expect((await fixture.api('GET', '/v1/account/domain')).body).toMatchObject({ status: 'verified', verified: true });
    const sequence = await fixture.createSequence();
    const lead = await fixture.createLead();
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    await fixture.waitForStatus(enrolment.id, 'completed');
    expect(emailsTo(lead.email)[0]!.payload.from).toBe('"Sam Seller" <sam@acme.test>');
  });
});

describe('a step email with no send rate set', () => {
  it('goes from the worker that runs its workflow, as a local activity, not through the sends queue', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Local' }] });
    const lead = await fixture.createLead();
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    await fixture.waitForStatus(enrolment.id, 'completed');
    // The send writes the completion itself, before its workflow task (and the local activity's
    // marker) reaches the history: the history is read once the workflow has ended.
    await service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    expect(await sendsInHistory(service.temporal, enrolment.id)).toEqual({ queued: [], local: 1 });
    expect(sink.emails.filter((e) => e.payload.to === lead.email)).toHaveLength(1);
  });
});

describe('exactly once', () => {
  it('retries 500s with the same key and the lead receives one email', async () => {
    sink.failNext(2, { status: 500, name: 'internal_server_error' });
    const { lead, enrolment, sequence, waitForStatus } = await enrolledInOneStep();
    await waitForStatus(enrolment.id, 'completed', 60_000);
    expect(emailsTo(lead.email)).toHaveLength(1);
    const key = `enrolment-${enrolment.id}-step-${sequence.steps[0]!.id}`;
    expect(requestsFor(key).map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it('waits out a 429 for as long as retry-after says', async () => {
    sink.failNext(1, { status: 429, name: 'rate_limit_exceeded', headers: { 'retry-after': '2' } });
    const { lead, enrolment, sequence, waitForStatus } = await enrolledInOneStep();
    await waitForStatus(enrolment.id, 'completed', 60_000);
    const key = `enrolment-${enrolment.id}-step-${sequence.steps[0]!.id}`;
    const [refused, accepted] = requestsFor(key);
    expect([refused!.status, accepted!.status]).toEqual([429, 200]);
    expect(accepted!.at - refused!.at).toBeGreaterThanOrEqual(1_900);
    expect(emailsTo(lead.email)).toHaveLength(1);
  });

  it('a replay of an accepted request is answered with the first id and sends nothing more', async () => {
    const { lead, enrolment, waitForStatus, sentMessages } = await enrolledInOneStep();
    await waitForStatus(enrolment.id, 'completed');
    const [message] = await sentMessages(enrolment.id);
    const { Resend } = await import('resend');
    const again = await new Resend(sink.apiKey, { baseUrl: sink.url }).emails.send(
      {
        from: message!.fromEmail,
        to: message!.toEmail,
        replyTo: message!.replyTo!,
        subject: message!.subject,
        html: message!.html,
        text: message!.text,
        headers: message!.headers,
        tags: message!.tags,
      },
      { idempotencyKey: message!.idempotencyKey },
    );
    expect(again.data?.id).toBe(message!.providerId);
    expect(emailsTo(lead.email)).toHaveLength(1);
  });
});

describe('a permanent refusal by the provider', () => {
  it('fails the enrolment with the reason, in the API and in the workflow', async () => {
    const { api, enrolment, waitForStatus, lead } = await enrolledInOneStep({}, { email: `invalid-${Date.now()}@example.com` });
    await waitForStatus(enrolment.id, 'failed');
    const res = await api('GET', `/v1/enrolments/${enrolment.id}`);
    expect(res.body.endedReason).toMatch(/validation_error \(422\): Invalid `to` field/);
    expect(res.body.messages[0]).toMatchObject({ status: 'failed' });
    const result = await service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolment.id)).result();
    expect(result).toMatchObject({ status: 'failed', endedReason: expect.stringContaining('Invalid `to` field') });
    expect(emailsTo(lead.email)).toHaveLength(0);
  });
});

describe('a provider quota', () => {
  it('postpones the step to when the quota resets; the enrolment stays active and nothing is dropped', async () => {
    sink.failNext(1, { status: 429, name: 'daily_quota_exceeded', message: 'You have reached your daily email quota' });
    const fixture = await enrolledInOneStep();
    const {
      enrolment: { id },
      lead,
    } = fixture;
    const state = await eventually(
      async () => {
        const s = await service.temporal.workflow.getHandle(enrolmentWorkflowId(id)).query(stateQuery);
        return s.nextStep && Date.parse(s.nextStep.dueAt) > Date.now() + 60_000 && s;
      },
      { what: 'the step postponed' },
    );
    const tomorrow = new Date();
    tomorrow.setUTCHours(24, 0, 0, 0);
    expect(state!.nextStep!.dueAt).toBe(tomorrow.toISOString());
    expect(state!.status).toBe('active');
    expect(emailsTo(lead.email)).toHaveLength(0);
    // And the enrolment says what it waits for.
    const answer = await eventually(
      async () => {
        const e = (await fixture.api('GET', `/v1/enrolments/${id}`)).body;
        return e.waitingFor?.cause === 'provider_quota' ? e : undefined;
      },
      { what: 'the wait recorded' },
    );
    expect(answer.waitingFor).toEqual({ cause: 'provider_quota', until: tomorrow.toISOString() });
    expect(answer.nextDueAt).toBe(tomorrow.toISOString());
  });
});

describe('the daily cap of a plan', () => {
  it('holds emails over the cap until the next day instead of dropping them', async () => {
    const fixture = await asNewAccount(service, {
      limits: { maxSequences: null, maxStepsPerSequence: null, maxActiveEnrolments: null, maxEmailsPerDay: 2 },
    });
    const sequence = await fixture.createSequence();
    const enrolled: { id: string }[] = [];
    for (let i = 0; i < 3; i++) enrolled.push(await fixture.enrolLead(sequence.id, (await fixture.createLead()).id));
    await eventually(
      async () => (await Promise.all(enrolled.map((e) => fixture.enrolmentRow(e.id)))).filter((e) => e.status === 'completed').length === 2,
      { what: 'two sent' },
    );
    const waiting = (await Promise.all(enrolled.map((e) => fixture.enrolmentRow(e.id)))).find((e) => e.status === 'active')!;
    await eventually(
      async () => {
        const s = await service.temporal.workflow.getHandle(enrolmentWorkflowId(waiting.id)).query(stateQuery);
        return s.nextStep && Date.parse(s.nextStep.dueAt) > Date.now();
      },
      { what: 'the third held to tomorrow' },
    );
    const { waitingFor } = (await fixture.api('GET', `/v1/enrolments/${waiting.id}`)).body;
    expect(waitingFor).toMatchObject({ cause: 'daily_cap', scope: 'account', cap: 2 });
    expect(waitingFor.senderId).toBeUndefined();
  });
});

describe('without RESEND_API_KEY', () => {
  it('keeps emails in the local outbox, listed through the API', async () => {
    const offline = await startService({ config: await testConfig() });
    try {
      const fixture = await asNewAccount(offline);
      const sequence = await fixture.createSequence({ steps: [{ subject: 'Offline {{ first_name }}' }] });
      const lead = await fixture.createLead({ firstName: 'Olive' });
      const enrolment = await fixture.enrolLead(sequence.id, lead.id);
      await fixture.waitForStatus(enrolment.id, 'completed');
      const outbox = await fixture.api('GET', '/v1/outbox');
      expect(outbox.body.delivery).toBe('local-outbox');
      expect(outbox.body.data).toHaveLength(1);
      expect(outbox.body.data[0]).toMatchObject({ to: lead.email, subject: 'Offline Olive', status: 'sent' });
      expect(outbox.body.data[0].html).toContain('Unsubscribe');
      expect(emailsTo(lead.email)).toHaveLength(0);
    } finally {
      await offline.stop();
    }
  });
});

describe('previews and test emails', () => {
  it('render a step for a chosen lead, or for sample data, without sending', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ subject: 'For {{ first_name }} at {{ company | default: "your team" }}' }] });
    const lead = await fixture.createLead({ firstName: 'Lin', company: 'Lindeco' });
    const forLead = await fixture.api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}/preview`, { leadId: lead.id });
    expect(forLead.body.subject).toBe('For Lin at Lindeco');
    const sample = await fixture.api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}/preview`, {});
    expect(sample.body.subject).toBe('For Alex at Sample Co');
    expect(sample.body.html).toContain('<!doctype html>');
    expect(emailsTo(lead.email)).toHaveLength(0);
  });

  it('send a test of a step to the user’s own confirmed address', async () => {
    const fixture = await asNewAccount(service, { senderEmail: `owner-${Date.now()}@acme.test`, senderEmailConfirmedAt: new Date() });
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Hi {{ first_name }}' }] });
    const res = await fixture.api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}/test`, {});
    expect(res.status).toBe(202);
    expect(emailsTo(res.body.to).map((e) => e.payload.subject)).toEqual(['[Test] Hi Alex']);
  });

  it('refuse an unknown merge tag when the step is saved, naming it', async () => {
    const fixture = await asNewAccount(service);
    const res = await fixture.api('POST', '/v1/sequences', {
      name: 'x',
      steps: [{ subject: 'Hi', body: 'Hello {{ frist_name }}', delay: { amount: 0, unit: 'days' } }],
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({ code: 'unknown_merge_tag', field: 'steps.0.body', message: 'unknown merge tag {{ frist_name }}' });
  });
});

describe('a one-off email to a lead', () => {
  it('goes out branded, with its own reply address, without any sequence', async () => {
    const fixture = await asNewAccount(service, { companyName: 'Acme Ltd', postalAddress: '1 Main St' });
    const lead = await fixture.createLead({ firstName: 'Omar' });
    const res = await fixture.api('POST', `/v1/leads/${lead.id}/emails`, {
      subject: 'Quick question, {{ first_name }}',
      body: 'Are you free **Tuesday**?',
    });
    expect(res.status).toBe(202);
    await eventually(async () => (await fixture.api('GET', `/v1/emails/${res.body.id}`)).body.status === 'sent', {
      what: 'the one-off sent',
    });
    const [email] = emailsTo(lead.email);
    expect(email!.payload.subject).toBe('Quick question, Omar');
    expect(email!.payload.html).toContain('<strong>Tuesday</strong>');
    expect(email!.payload.html).toContain('1 Main St');
    expect(email!.payload.reply_to).toMatch(/^r-.+@reply\.example\.com$/);
    expect(email!.payload.headers!['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
  });

  it('is refused for an unsubscribed lead', async () => {
    const fixture = await asNewAccount(service);
    const lead = await fixture.createLead();
    await service.database.db.update(leads).set({ unsubscribedAt: new Date() }).where(eq(leads.id, lead.id));
    const res = await fixture.api('POST', `/v1/leads/${lead.id}/emails`, { subject: 'Hi', body: 'Hello' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('unsubscribed');
  });
});
