import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leads, messages } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { deliverWebhook, newWebhookSecret } from './helpers/webhooks.js';

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
const secret = newWebhookSecret();
const inboundSecret = 'inbound-secret-for-tests';

beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink({
    env: { RESEND_WEBHOOK_SECRET: secret, INBOUND_MIME_SECRET: inboundSecret },
  }));
});
afterAll(() => started?.stop());

const days = (amount: number) => ({ amount, unit: 'days' });
const webhook = (type: string, data: Record<string, unknown>, options?: Parameters<typeof deliverWebhook>[3]) =>
  deliverWebhook(service.baseUrl, secret, { type, data }, options);

/** A lead who got step 1 of a two-step sequence and now waits for step 2. */
async function leadWhoGotStep1(options: { onReply?: string; accountValues?: Record<string, unknown> } = {}) {
  // A confirmed sender address: replies are forwarded only to one.
  const fixture = await asNewAccount(service, {
    senderEmail: `owner-${Date.now()}-${Math.random()}@acme.test`,
    senderEmailConfirmedAt: new Date(),
    companyName: 'Acme Ltd',
    ...options.accountValues,
  });
  const sequence = await fixture.createSequence({ onReply: options.onReply, steps: [{ delay: days(0) }, { delay: days(3) }] });
  const lead = await fixture.createLead({ firstName: 'Rita', lastName: 'Reply' });
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  const message = await eventually(async () => (await fixture.sentMessages(enrolment.id)).find((m) => m.status === 'sent'), {
    what: 'step 1 sent',
  });
  const row = await fixture.enrolmentRow(enrolment.id);
  return { ...fixture, sequence, lead, enrolment, message, replyAddress: `r-${row.replyToken}@reply.example.com` };
}

async function messageRow(id: string) {
  const [row] = await service.database.db.select().from(messages).where(eq(messages.id, id));
  return row!;
}

describe('Resend webhooks', () => {
  it('refuse a wrong signature with 401 and change nothing', async () => {
    const { message } = await leadWhoGotStep1();
    const res = await webhook(
      'email.opened',
      { email_id: message.providerId, tags: { message_id: message.id } },
      { signWith: newWebhookSecret() },
    );
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_signature');
    expect((await messageRow(message.id)).openCount).toBe(0);
  });

  it('refuse a stale timestamp (over five minutes) with 401', async () => {
    const { message } = await leadWhoGotStep1();
    const res = await webhook('email.opened', { email_id: message.providerId }, { timestamp: new Date(Date.now() - 10 * 60_000) });
    expect(res.status).toBe(401);
    expect((await messageRow(message.id)).openCount).toBe(0);
  });

  it('refuse a timestamp from the future (over five minutes ahead) with 401', async () => {
    const { message } = await leadWhoGotStep1();
    const res = await webhook(
      'email.opened',
      { email_id: message.providerId, tags: { message_id: message.id } },
      { timestamp: new Date(Date.now() + 10 * 60_000) },
    );
    expect([res.status, res.body.error.code]).toEqual([401, 'invalid_signature']);
    expect((await messageRow(message.id)).openCount).toBe(0);
  });

  it('handle each event id once: a redelivery is a no-op', async () => {
    const { message } = await leadWhoGotStep1();
    const first = await webhook('email.opened', { email_id: message.providerId });
    const again = await webhook('email.opened', { email_id: message.providerId }, { id: first.id });
    expect(again.body).toEqual({ received: true, duplicate: true });
    expect((await messageRow(message.id)).openCount).toBe(1);
  });

  it('record delivered, opened and clicked per message, in whatever order they arrive', async () => {
    const { message, api, enrolment } = await leadWhoGotStep1();
    await webhook('email.clicked', { email_id: message.providerId, click: { link: 'https://acme.test/pricing' } });
    await webhook('email.opened', { email_id: message.providerId });
    await webhook('email.delivered', { email_id: message.providerId });
    await webhook('email.opened', { email_id: message.providerId });
    const row = await messageRow(message.id);
    expect(row).toMatchObject({ status: 'delivered', openCount: 2, clickCount: 1 });
    expect(row.deliveredAt).not.toBeNull();
    const timeline = (await api('GET', `/v1/enrolments/${enrolment.id}`)).body.timeline.map((e: { type: string }) => e.type);
    expect(timeline).toEqual(expect.arrayContaining(['email_clicked', 'email_delivered']));
  });

  it('accept and log events they do not know', async () => {
    const res = await webhook('contact.created', { id: 'x' });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('no matching message');
  });
});

describe('per-step and per-sequence statistics', () => {
  it('count sent, delivered, opened, clicked, replied, bounced and unsubscribed, with rates', async () => {
    const { message, api, sequence } = await leadWhoGotStep1();
    await webhook('email.delivered', { email_id: message.providerId });
    await webhook('email.opened', { email_id: message.providerId });
    await webhook('email.clicked', { email_id: message.providerId, click: { link: 'https://acme.test' } });
    await api('POST', `/v1/enrolments/${message.enrolmentId}/reply`);
    const stats = (await api('GET', `/v1/sequences/${sequence.id}/stats`)).body;
    expect(stats.sequence).toMatchObject({
      enrolled: 1,
      sent: 1,
      delivered: 1,
      opened: 1,
      clicked: 1,
      replied: 1,
      bounced: 0,
      unsubscribed: 0,
    });
    expect(stats.sequence.rates).toMatchObject({ opened: 1, replied: 1, repliedPerEnrolment: 1 });
    expect(stats.steps[0]).toMatchObject({ position: 1, sent: 1, opened: 1, replied: 1 });
    expect(stats.steps[1]).toMatchObject({ position: 2, sent: 0, replied: 0, rates: { opened: 0 } });
  });
});

describe('a hard bounce', () => {
  it('marks the lead bounced, ends all its active enrolments as bounced, and refuses later enrolment', async () => {
    const { message, lead, enrolment, api, createSequence, enrolLead, waitForStatus } = await leadWhoGotStep1({
      accountValues: { allowParallelEnrolment: true },
    });
    const other = await createSequence({ steps: [{ delay: days(5) }] });
    const second = await enrolLead(other.id, lead.id);
    const res = await webhook('email.bounced', {
      email_id: message.providerId,
      bounce: { type: 'Permanent', subType: 'General', message: 'mailbox does not exist' },
    });
    expect(res.body.outcome).toBe('hard bounce: lead suppressed');
    await waitForStatus(enrolment.id, 'bounced');
    await waitForStatus(second.id, 'bounced');
    expect((await api('GET', `/v1/leads/${lead.id}`)).body.bouncedAt).not.toBeNull();
    const again = await api('POST', `/v1/sequences/${other.id}/enrolments`, { leadId: lead.id });
    expect(again.body.error.code).toBe('bounced');
  });

  it('but a soft bounce or a delay is only recorded', async () => {
    const { message, enrolment, enrolmentRow, api } = await leadWhoGotStep1();
    await webhook('email.bounced', {
      email_id: message.providerId,
      bounce: { type: 'Transient', subType: 'MailboxFull', message: 'full' },
    });
    await webhook('email.delivery_delayed', { email_id: message.providerId });
    expect((await enrolmentRow(enrolment.id)).status).toBe('active');
    const types = (await api('GET', `/v1/enrolments/${enrolment.id}`)).body.timeline.map((e: { type: string }) => e.type);
    expect(types).toEqual(expect.arrayContaining(['email_soft_bounced', 'email_delayed']));
  });
});

describe('a spam complaint', () => {
  it('counts as an unsubscribe', async () => {
    const { message, enrolment, waitForStatus, lead, api } = await leadWhoGotStep1();
    await webhook('email.complained', { email_id: message.providerId });
    await waitForStatus(enrolment.id, 'unsubscribed');
    expect((await api('GET', `/v1/leads/${lead.id}`)).body.unsubscribedAt).not.toBeNull();
  });
});

describe('a lead who replies', () => {
  async function replyThroughResend(to: string, from: string, extra: Record<string, unknown> = {}) {
    const receivedId = sink.addReceived({
      from,
      to: [to],
      received_for: [to],
      subject: 'Re: Step 1',
      text: 'Sounds good, call me Tuesday.',
      html: null,
      headers: {},
      cc: [],
      bcc: [],
      ...extra,
    });
    return webhook('email.received', { email_id: receivedId, from, to: [to], subject: 'Re: Step 1' });
  }

  it('while waiting: the enrolment ends as replied, the user is notified in the API and by a forwarded email with Reply-To the lead', async () => {
    const { replyAddress, lead, enrolment, waitForStatus, api, account } = await leadWhoGotStep1();
    const res = await replyThroughResend(replyAddress, `Rita Reply <${lead.email}>`);
    expect(res.body.outcome).toBe('reply recorded');
    await waitForStatus(enrolment.id, 'replied');
    const inbox = (await api('GET', '/v1/notifications?unread=true')).body;
    expect(inbox.unread).toBe(1);
    expect(inbox.data[0]).toMatchObject({ type: 'reply', title: 'Rita Reply replied (to Sam Seller)', enrolmentId: enrolment.id });
    const forwarded = await eventually(async () => sink.emails.find((e) => e.payload.to === account.senderEmail));
    expect(forwarded.payload).toMatchObject({ reply_to: lead.email, subject: 'Re: Step 1' });
    expect(forwarded.payload.text).toContain('Sounds good, call me Tuesday.');
    expect((await api('POST', `/v1/notifications/${inbox.data[0].id}/read`)).status).toBe(200);
    expect((await api('GET', '/v1/notifications?unread=true')).body.unread).toBe(0);
  });

  it('while paused: the enrolment ends as replied too', async () => {
    const { replyAddress, lead, enrolment, waitForStatus, api } = await leadWhoGotStep1();
    await api('POST', `/v1/enrolments/${enrolment.id}/pause`);
    await replyThroughResend(replyAddress, lead.email);
    await waitForStatus(enrolment.id, 'replied');
  });

  it('after the sequence completed: the reply is recorded and notified, the status stays completed', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence();
    const lead = await fixture.createLead();
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    await fixture.waitForStatus(enrolment.id, 'completed');
    const row = await fixture.enrolmentRow(enrolment.id);
    await replyThroughResend(`r-${row.replyToken}@reply.example.com`, lead.email);
    expect(await fixture.enrolmentRow(enrolment.id)).toMatchObject({ status: 'completed', repliedAt: expect.any(Date) });
    expect((await fixture.api('GET', '/v1/notifications')).body.unread).toBe(1);
  });

  it('with an out-of-office answer is recorded but is not a reply', async () => {
    const { replyAddress, lead, enrolment, api, enrolmentRow } = await leadWhoGotStep1();
    const res = await replyThroughResend(replyAddress, lead.email, {
      subject: 'Automatic reply: Step 1',
      headers: { 'auto-submitted': 'auto-replied' },
    });
    expect(res.body.outcome).toBe('auto-reply recorded');
    expect((await enrolmentRow(enrolment.id)).status).toBe('active');
    expect((await api('GET', '/v1/notifications')).body.unread).toBe(0);
    const types = (await api('GET', `/v1/enrolments/${enrolment.id}`)).body.timeline.map((e: { type: string }) => e.type);
    expect(types).toContain('auto_reply');
  });

  it('through another provider’s raw MIME, matched by In-Reply-To alone', async () => {
    const { lead, enrolment, waitForStatus, message } = await leadWhoGotStep1();
    const mime = [
      `From: Rita <${lead.email}>`,
      'To: someone-else@acme.test',
      'Subject: Re: hello',
      `In-Reply-To: <${message.id}@reply.example.com>`,
      `Message-ID: <reply-${Date.now()}@mail.lead.test>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Yes please, send more.',
    ].join('\r\n');
    const res = await fetch(`${service.baseUrl}/inbound/mime`, {
      method: 'POST',
      headers: { authorization: `Bearer ${inboundSecret}`, 'content-type': 'message/rfc822' },
      body: mime,
    });
    expect(await res.json()).toMatchObject({ outcome: 'reply recorded' });
    await waitForStatus(enrolment.id, 'replied');
    const wrong = await fetch(`${service.baseUrl}/inbound/mime`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: mime });
    expect(wrong.status).toBe(401);
  });

  it('is signalled to the portal with a signed webhook', async () => {
    const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
    const portal = http.createServer((req, res) => {
      let body = '';
      req
        .on('data', (c) => (body += c))
        .on('end', () => {
          received.push({ headers: req.headers, body });
          res.end('ok');
        });
    });
    await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
    try {
      const fixture = await leadWhoGotStep1();
      const configured = await fixture.api('PATCH', '/v1/account', {
        portalWebhookUrl: `http://127.0.0.1:${(portal.address() as AddressInfo).port}/hooks`,
      });
      const portalSecret = configured.body.portalWebhookSecret as string;
      expect(portalSecret).toMatch(/^whsec_/);
      await replyThroughResend(fixture.replyAddress, fixture.lead.email);
      const reply = await eventually(async () => received.find((r) => JSON.parse(r.body).type === 'reply.received'));
      const verified = new Webhook(portalSecret).verify(reply.body, {
        'webhook-id': reply.headers['webhook-id'] as string,
        'webhook-timestamp': reply.headers['webhook-timestamp'] as string,
        'webhook-signature': reply.headers['webhook-signature'] as string,
      }) as { data: { enrolmentId: string } };
      expect(verified.data.enrolmentId).toBe(fixture.enrolment.id);
      const ended = await eventually(async () => received.find((r) => JSON.parse(r.body).type === 'enrolment.ended'));
      expect(JSON.parse(ended.body).data).toMatchObject({ status: 'replied' });
    } finally {
      portal.closeAllConnections();
      await new Promise((r) => portal.close(r));
    }
  });
});

describe('the lead record after suppression', () => {
  it('shows why the lead is suppressed', async () => {
    const { message, lead } = await leadWhoGotStep1();
    await webhook('email.complained', { email_id: message.providerId });
    const [row] = await service.database.db.select().from(leads).where(eq(leads.id, lead.id));
    expect(row!.unsubscribedAt).not.toBeNull();
  });
});
