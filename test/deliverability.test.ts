import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolments, messages, notifications } from '../db/schema.js';
import { enrolmentWorkflowId } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startPortalReceiver, type PortalEvent } from './helpers/portal.js';
import { announceRecentTripsAgain } from '../api/services/deliverability.js';
import { eventually, logger, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { deliverWebhook, newWebhookSecret } from './helpers/webhooks.js';

// Issue 18's circuit breaker: hard bounces and complaints over the thresholds pause the sequence
// (or every sequence of the account) with the reason, the portal is told, a person's resume is
// honoured and the breaker lets it be for the grace period unless the rate doubles.

let started: ServiceWithSink | undefined;
let service: TestService;
let portal: Awaited<ReturnType<typeof startPortalReceiver>> | undefined;
const portalEvents: PortalEvent[] = [];
const secret = newWebhookSecret();

beforeAll(async () => {
  ({ service } = started = await startServiceWithSink({ env: { RESEND_WEBHOOK_SECRET: secret } }));
  portal = await startPortalReceiver(portalEvents);
});
afterAll(async () => {
  await portal?.close();
  await started?.stop();
});

type Fixture = Awaited<ReturnType<typeof asNewAccount>>;
const db = () => service.database.db;
const twoSteps = [{ subject: 'Hello' }, { subject: 'Again', delay: { amount: 3, unit: 'days' }, inThread: false }];

/** An account with the breaker's thresholds given, and its portal listening. */
async function accountWith(deliverability: Record<string, number>) {
  const fixture = await asNewAccount(service);
  const res = await fixture.api('PATCH', '/v1/account', { deliverability, portalWebhookUrl: portal!.url });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return fixture;
}

/** A sequence whose step 1 has gone to `count` new leads; its step 2 waits three days. */
async function sentTo(fixture: Fixture, count: number, senderId?: string) {
  const sequence = await fixture.createSequence({ steps: twoSteps });
  const imported = await fixture.api('POST', '/v1/leads/import', {
    leads: Array.from({ length: count }, (_, i) => ({ email: `lead-${i}-${sequence.id}@example.com` })),
  });
  const leadIds = imported.body.results.map((r: { id: string }) => r.id);
  const bulk = await fixture.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds, ...(senderId ? { senderId } : {}) });
  expect(bulk.status, JSON.stringify(bulk.body).slice(0, 500)).toBeLessThan(300);
  const ids: string[] = bulk.body.results.map((r: { enrolmentId: string }) => r.enrolmentId);
  const sent = await eventually(
    async () => {
      const rows = await db()
        .select()
        .from(messages)
        .where(and(inArray(messages.enrolmentId, ids), eq(messages.status, 'sent')));
      return rows.length === count ? rows : undefined;
    },
    { what: `step 1 sent to ${count} leads`, timeoutMs: 60_000 },
  );
  return { sequence, enrolmentIds: ids, sent };
}

const bounce = (message: { providerId: string | null }) =>
  deliverWebhook(service.baseUrl, secret, {
    type: 'email.bounced',
    data: { email_id: message.providerId, bounce: { type: 'Permanent', subType: 'General', message: 'no such mailbox' } },
  });
const complaint = (message: { providerId: string | null }) =>
  deliverWebhook(service.baseUrl, secret, { type: 'email.complained', data: { email_id: message.providerId } });

const sequenceOf = async (fixture: Fixture, id: string) => (await fixture.api('GET', `/v1/sequences/${id}`)).body;
const pausedEvents = (sequenceId: string) => portalEvents.filter((e) => e.type === 'sequence.paused' && e.data.sequenceId === sequenceId);

describe('the bounce breaker', () => {
  it('pauses the sequence when its hard bounces reach the threshold, and says why everywhere', async () => {
    const acme = await accountWith({ maxHardBounceRate: 0.05 });
    const { sequence, enrolmentIds, sent } = await sentTo(acme, 40);

    // One bounce of 40 is 2.5 %: under the threshold, nothing happens.
    expect((await bounce(sent[0]!)).status).toBe(200);
    expect((await sequenceOf(acme, sequence.id)).status).toBe('active');

    // The second is 5 %: the sequence pauses itself.
    await bounce(sent[1]!);
    const paused = await sequenceOf(acme, sequence.id);
    expect(paused.status).toBe('paused');
    expect(paused.protection).toMatchObject({
      cause: 'bounce_protection',
      scope: 'sequence',
      sent: 40,
      count: 2,
      rate: 0.05,
      threshold: 0.05,
      windowDays: 7,
      resumedAt: null,
    });
    const reason = 'bounce protection: 2 of 40 of its emails hard-bounced (5 %) in the last 7 days, over the 5 % threshold';
    const live = enrolmentIds.find((id) => id !== sent[0]!.enrolmentId && id !== sent[1]!.enrolmentId)!;
    await acme.waitForStatus(live, 'paused');
    expect((await acme.api('GET', `/v1/enrolments/${live}`)).body.waitingFor).toEqual({ cause: 'bounce_protection', reason });
    // The pause reaches each enrolment by its own signal: all 38 say so once the broadcast is through.
    await eventually(
      async () =>
        (await acme.api('GET', `/v1/sequences/${sequence.id}/enrolments?waitingFor=bounce_protection&limit=500`)).body.data.length === 38,
      { what: 'the 38 live enrolments waiting for bounce protection' },
    );
    const details = await service.temporal.workflow
      .getHandle(enrolmentWorkflowId(live))
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    // Markdown-escaped, as the Temporal UI reads details.
    expect(details.currentDetails).toMatch(/^Paused \(bounce protection\\: 2 of 40 of its emails hard\\-bounced/);

    // The portal and the user are told, once.
    await eventually(async () => pausedEvents(sequence.id).length === 1, { what: 'the portal told' });
    expect(pausedEvents(sequence.id)[0]!.data).toMatchObject({ cause: 'bounce_protection', scope: 'sequence', count: 2, sent: 40, reason });
    const told = await db().select().from(notifications).where(eq(notifications.accountId, acme.account.id));
    expect(told.filter((n) => n.type === 'sequence_protection_paused')).toHaveLength(1);

    // Were the first delivery's announcement lost (a crash after the trip's commit), the event's
    // effects run again announce it again, with the same event id for the portal to recognise.
    await announceRecentTripsAgain({ db: db(), temporal: service.temporal, config: service.config, logger }, sent[1]!.id);
    await eventually(async () => pausedEvents(sequence.id).length === 2, { what: 'the portal told again' });
    const [firstTold, again] = pausedEvents(sequence.id) as (PortalEvent & { id: string })[];
    expect(again!.id).toBe(firstTold!.id);

    // A lead enrolled now gets nothing: the sequence holds it, paused for the same reason.
    const late = await acme.enrolLead(sequence.id, (await acme.createLead()).id);
    await acme.waitForStatus(late.id, 'paused');
    expect(await acme.sentMessages(late.id)).toEqual([]);
    // Its workflow took the pause from the database, with no reason of its own: the database names it.
    expect((await acme.api('GET', `/v1/enrolments/${late.id}`)).body.waitingFor).toEqual({ cause: 'bounce_protection', reason });
  }, 120_000);

  it('honours a manual resume for the grace period, and trips again once the rate doubles', async () => {
    const acme = await accountWith({ maxHardBounceRate: 0.05 });
    const { sequence, enrolmentIds, sent } = await sentTo(acme, 40);
    await bounce(sent[0]!);
    await bounce(sent[1]!);
    expect((await sequenceOf(acme, sequence.id)).status).toBe('paused');

    const resumed = await acme.api('POST', `/v1/sequences/${sequence.id}/resume`);
    expect(resumed.status).toBe(202);
    expect(resumed.body.protection.resumedAt).not.toBeNull();
    // The enrolments whose leads will not bounce (the first four emails' will).
    const bouncing = new Set(sent.slice(0, 4).map((m) => m.enrolmentId));
    const live = enrolmentIds.filter((id) => !bouncing.has(id));
    for (const id of live.slice(0, 3)) await acme.waitForStatus(id, 'active');

    // 3 of 40 (7.5 %) is over the threshold but under twice the rate it tripped at: let be.
    await bounce(sent[2]!);
    expect((await sequenceOf(acme, sequence.id)).status).toBe('active');
    // 4 of 40 (10 %) has doubled: paused again.
    await bounce(sent[3]!);
    const again = await sequenceOf(acme, sequence.id);
    expect(again.status).toBe('paused');
    expect(again.protection).toMatchObject({ cause: 'bounce_protection', count: 4, rate: 0.1, resumedAt: null });
    await acme.waitForStatus(live[0]!, 'paused');
    await eventually(async () => pausedEvents(sequence.id).length === 2, { what: 'the portal told twice' });
  }, 120_000);
});

describe('the complaint breaker', () => {
  it("pauses every sequence of the account when the account's complaints reach 0.1 %, from the second one", async () => {
    const acme = await accountWith({});
    // 15 and 10 emails: neither sequence has 20 of its own, the account has 25.
    const first = await sentTo(acme, 15);
    const second = await sentTo(acme, 10);
    // One complaint is one recipient: nothing yet.
    expect((await complaint(first.sent[0]!)).status).toBe(200);
    expect((await sequenceOf(acme, first.sequence.id)).status).toBe('active');
    await complaint(second.sent[0]!);
    for (const { sequence } of [first, second]) {
      const paused = await sequenceOf(acme, sequence.id);
      expect(paused.status).toBe('paused');
      expect(paused.protection).toMatchObject({
        cause: 'complaint_protection',
        scope: 'account',
        sent: 25,
        count: 2,
        rate: 0.08,
        threshold: 0.001,
      });
    }
    // Not the enrolment whose lead complained: a complaint unsubscribes its lead, which ends it.
    const bystander = second.enrolmentIds.find((id) => id !== second.sent[0]!.enrolmentId)!;
    await acme.waitForStatus(bystander, 'paused');
    const { waitingFor } = (await acme.api('GET', `/v1/enrolments/${bystander}`)).body;
    expect(waitingFor).toEqual({
      cause: 'complaint_protection',
      reason:
        "complaint protection: 2 of 25 of the account's emails drew spam complaints (8 %) in the last 7 days, over the 0.1 % threshold",
    });
    const [row] = await db().select({ complainedAt: messages.complainedAt }).from(messages).where(eq(messages.id, first.sent[0]!.id));
    expect(row!.complainedAt).not.toBeNull();
  }, 120_000);

  it('says nothing under the minimum of emails sent', async () => {
    const acme = await accountWith({});
    const { sequence, sent } = await sentTo(acme, 5);
    await complaint(sent[0]!);
    await bounce(sent[1]!);
    expect((await sequenceOf(acme, sequence.id)).status).toBe('active');
    const [live] = await db().select().from(enrolments).where(eq(enrolments.id, sent[2]!.enrolmentId!));
    expect(live!.status).toBe('active');
  }, 60_000);
});

describe('the sender breaker', () => {
  it("pauses one rep's enrolments in every sequence when their own bounces reach the threshold, and their resume lifts it", async () => {
    const acme = await accountWith({});
    const rep = async (name: string) =>
      (await acme.api('POST', '/v1/senders', { name, email: `${name.toLowerCase()}-${acme.account.id}@acme.test` })).body;
    const ann = await rep('Ann');
    const bob = await rep('Bob');
    // Ann: 15 emails in each of two sequences (neither has 20 of its own); Bob: 60. The account: 90.
    const first = await sentTo(acme, 15, ann.id);
    const second = await sentTo(acme, 15, ann.id);
    const bobs = await sentTo(acme, 60, bob.id);
    await bounce(first.sent[0]!);
    await bounce(second.sent[0]!);
    // 2 of Ann's 30 (6.7 %): Ann trips; 2 of the account's 90 (2.2 %) and 1 of 15 per sequence do not.
    const tripped = (await acme.api('GET', `/v1/senders/${ann.id}`)).body;
    expect(tripped.protection).toMatchObject({ cause: 'bounce_protection', scope: 'sender', sent: 30, count: 2, resumedAt: null });
    for (const { sequence } of [first, second, bobs]) expect((await sequenceOf(acme, sequence.id)).status).toBe('active');
    const annsLive = first.enrolmentIds.find((id) => id !== first.sent[0]!.enrolmentId)!;
    await acme.waitForStatus(annsLive, 'paused');
    const reason = "bounce protection: 2 of 30 of the sender's emails hard-bounced (6.67 %) in the last 7 days, over the 3 % threshold";
    expect((await acme.api('GET', `/v1/enrolments/${annsLive}`)).body.waitingFor).toEqual({ cause: 'bounce_protection', reason });
    expect((await db().select().from(enrolments).where(eq(enrolments.id, bobs.enrolmentIds[0]!)))[0]!.status).toBe('active');
    await eventually(async () => portalEvents.some((e) => e.type === 'sender.paused' && e.data.senderId === ann.id), {
      what: 'the portal told',
    });

    // Ann is resumed: what the trip paused goes on.
    const resumed = await acme.api('POST', `/v1/senders/${ann.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.protection.resumedAt).not.toBeNull();
    await acme.waitForStatus(annsLive, 'active');
    // Resuming again changes nothing.
    expect((await acme.api('POST', `/v1/senders/${ann.id}/resume`)).body.protection.resumedAt).toBe(resumed.body.protection.resumedAt);
  }, 180_000);
});
