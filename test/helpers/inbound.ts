import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll } from 'vitest';
import { enrolmentEvents, inboundMessages, notifications } from '../../db/schema.js';
import { asNewAccount } from './fixtures.js';
import { startResendSink, type ResendSink } from './resend-sink.js';
import { eventually, startService, testConfig, type TestService } from './service.js';
import { deliverWebhook, newWebhookSecret } from './webhooks.js';

/**
 * The service with both ways in for email (Resend webhooks, raw MIME) and a Resend-compatible
 * sink, plus the small vocabulary the inbound specifications are written in.
 */
export async function inboundWorld(sink: ResendSink) {
  const secret = newWebhookSecret();
  const inboundSecret = `inbound-${randomUUID()}`;
  const service: TestService = await startService({
    config: await testConfig({
      RESEND_API_KEY: sink.apiKey,
      RESEND_BASE_URL: sink.url,
      RESEND_WEBHOOK_SECRET: secret,
      INBOUND_MIME_SECRET: inboundSecret,
    }),
  });
  const db = service.database.db;

  const webhook = (type: string, data: Record<string, unknown>, options?: Parameters<typeof deliverWebhook>[3]) =>
    deliverWebhook(service.baseUrl, secret, { type, data }, options);

  /** A lead who got step 1 of a two-step sequence and waits for step 2; the account's sender address is confirmed. */
  async function leadWaitingForStep2(
    options: { leadEmail?: string; leadName?: { firstName: string; lastName: string }; confirmed?: boolean; onReply?: string } = {},
  ) {
    const fixture = await asNewAccount(service, {
      senderEmail: `owner-${randomUUID()}@acme.test`,
      ...(options.confirmed === false ? {} : { senderEmailConfirmedAt: new Date() }),
    });
    const sequence = await fixture.createSequence({
      name: 'Spring outreach',
      onReply: options.onReply,
      steps: [{ delay: { amount: 0, unit: 'days' } }, { delay: { amount: 3, unit: 'days' } }],
    });
    const lead = await fixture.createLead({
      ...(options.leadName ?? { firstName: 'Ann', lastName: 'Lead' }),
      ...(options.leadEmail ? { email: options.leadEmail } : {}),
    });
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    const message = await eventually(async () => (await fixture.sentMessages(enrolment.id)).find((m) => m.status === 'sent'), {
      what: 'step 1 sent',
    });
    const row = await fixture.enrolmentRow(enrolment.id);
    return { ...fixture, sequence, lead, enrolment, message, replyAddress: `r-${row.replyToken}@reply.example.com` };
  }

  /** An email as Resend's `email.received` announces it (the service then fetches it from the sink). */
  async function receiveThroughResend(
    email: { from: string; to: string; subject?: string; text?: string; headers?: Record<string, string> },
    options?: Parameters<typeof deliverWebhook>[3],
  ) {
    const subject = email.subject ?? 'Re: Step 1';
    const receivedId = sink.addReceived({
      from: email.from,
      to: [email.to],
      received_for: [email.to],
      subject,
      text: email.text ?? 'Sounds good.',
      html: null,
      headers: email.headers ?? {},
      cc: [],
      bcc: [],
    });
    return webhook('email.received', { email_id: receivedId, from: email.from, to: [email.to], subject }, options);
  }

  /** Raw MIME posted to /inbound/mime with the right secret. */
  async function postMime(mime: string | Buffer, headers: Record<string, string> = {}) {
    const response = await fetch(`${service.baseUrl}/inbound/mime`, {
      method: 'POST',
      headers: { authorization: `Bearer ${inboundSecret}`, 'content-type': 'message/rfc822', ...headers },
      body: mime,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** A plain MIME reply; `head` adds header lines, `body` replaces the text. */
  const mimeReply = (to: string, from: string, options: { head?: string[]; body?: string; subject?: string; messageId?: string } = {}) =>
    [
      `From: <${from}>`,
      `To: ${to}`,
      `Subject: ${options.subject ?? 'Re: Step 1'}`,
      `Message-ID: ${options.messageId ?? `<${randomUUID()}@lead.test>`}`,
      ...(options.head ?? ['Content-Type: text/plain; charset=utf-8']),
      '',
      options.body ?? 'Interested, tell me more.',
    ].join('\r\n');

  const inboundOf = (enrolmentId: string) => db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, enrolmentId));
  const timelineTypes = async (enrolmentId: string) =>
    (await db.select().from(enrolmentEvents).where(eq(enrolmentEvents.enrolmentId, enrolmentId))).map((e) => e.type);
  const notificationsOf = (accountId: string) => db.select().from(notifications).where(eq(notifications.accountId, accountId));

  /** The event a portal webhook workflow was started with (whatever becomes of its delivery). */
  async function portalEvent(workflowId: string): Promise<{ type: string; data: Record<string, unknown> }> {
    return eventually(
      async () => {
        const history = await service.temporal.workflow.getHandle(workflowId).fetchHistory();
        const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        return input ? defaultPayloadConverter.fromPayload(input) : undefined;
      },
      { what: `portal webhook workflow ${workflowId}` },
    );
  }

  return {
    service,
    db,
    secret,
    inboundSecret,
    webhook,
    leadWaitingForStep2,
    receiveThroughResend,
    postMime,
    mimeReply,
    inboundOf,
    timelineTypes,
    notificationsOf,
    portalEvent,
  };
}

export type InboundWorld = Awaited<ReturnType<typeof inboundWorld>>;

/**
 * A sink and an inbound world for one test file: started before its tests, handed over through
 * `use`, stopped after them.
 */
export function inboundWorldForFile(use: (sink: ResendSink, world: InboundWorld) => void): void {
  let started: { sink: ResendSink; world: InboundWorld } | undefined;
  beforeAll(async () => {
    const sink = await startResendSink();
    started = { sink, world: await inboundWorld(sink) };
    use(started.sink, started.world);
  });
  afterAll(async () => {
    await started?.world.service.stop();
    await started?.sink.close();
  });
}
