import { randomUUID } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enrolmentEvents,
  enrolments,
  inboundMessages,
  leads,
  leadUnsubscriptions,
  messages,
  steps,
  stepVariants,
  variantAssignments,
  type ReplySentiment,
  type VariantStatus,
} from '../db/schema.js';
import { compareVariants, credibleInterval, posteriorOf, probabilityBest } from '../domain/experiment-stats.js';
import { unsubscribeToken } from '../domain/unsubscribe-token.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startPortalReceiver, type PortalEvent } from './helpers/portal.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { deliverReplyMime, deliverWebhook, newWebhookSecret } from './helpers/webhooks.js';

// Experiments judged (issue 20): what each variant of a step did, by the attribution rule; the
// comparison on reply rate; the holdout; the guardrails that stop a variant through the real
// unsubscribe and complaint paths; a user's judgement of a reply; the variant on portal webhooks.
// Experiments are seeded straight into the database (hundreds of sends, no waiting), and the
// outcomes that matter arrive the way they do in production.

let started: ServiceWithSink | undefined;
let service: TestService;
const webhookSecret = newWebhookSecret();
const inboundSecret = 'inbound-secret-for-experiments';

/** The portal: every event it received, of every account of this file. */
let portal: Awaited<ReturnType<typeof startPortalReceiver>> | undefined;
const portalEvents: PortalEvent[] = [];
let portalUrl: string;

beforeAll(async () => {
  ({ service } = started = await startServiceWithSink({
    env: { RESEND_WEBHOOK_SECRET: webhookSecret, INBOUND_MIME_SECRET: inboundSecret },
  }));
  portal = await startPortalReceiver(portalEvents);
  portalUrl = portal.url;
});
afterAll(async () => {
  await portal?.close();
  await started?.stop();
});

const db = () => service.database.db;
const BASE = Date.now() - 7 * 24 * 3600_000;
/** A moment of the seeded history, in hours after its start (a week ago). */
const hour = (h: number) => new Date(BASE + h * 3600_000);

// ── A seeded experiment ──

type Variant = typeof stepVariants.$inferSelect;

/** A fresh account with a two-step sequence whose steps have the variants asked for (A, B… by default active). */
async function experiment(spec: { step1?: VariantStatus[]; step2?: VariantStatus[]; portal?: boolean } = {}) {
  const fixture = await asNewAccount(service);
  if (spec.portal) expect((await fixture.api('PATCH', '/v1/account', { portalWebhookUrl: portalUrl })).status).toBe(200);
  const sequence = await fixture.createSequence({
    steps: [{ delay: { amount: 0, unit: 'days' } }, { delay: { amount: 3, unit: 'days' } }],
  });
  const variantsOf = async (stepId: string, statuses: VariantStatus[]) => {
    if (statuses.length === 0) return {} as Record<string, Variant>;
    const rows = await db()
      .insert(stepVariants)
      .values(
        statuses.map((status, i) => ({
          accountId: fixture.account.id,
          stepId,
          label: 'ABCDE'[i]!,
          subject: `Subject ${'ABCDE'[i]}`,
          body: `Body ${'ABCDE'[i]}`,
          status,
          ...(status === 'active' ? {} : { endedReason: `${status} for the test`, endedAt: hour(1) }),
        })),
      )
      .returning();
    return Object.fromEntries(rows.map((v) => [v.label, v]));
  };
  const [step1, step2] = sequence.steps;
  return {
    ...fixture,
    sequence,
    step1: { id: step1!.id, variants: await variantsOf(step1!.id, spec.step1 ?? ['active', 'active']) },
    step2: { id: step2!.id, variants: await variantsOf(step2!.id, spec.step2 ?? []) },
  };
}
type Experiment = Awaited<ReturnType<typeof experiment>>;

interface Enrolled {
  enrolmentId: string;
  leadId: string;
  email: string;
}

/** `n` leads enrolled in the experiment's sequence, their enrolments already ended (no workflow to run). */
async function enrol(x: Experiment, n: number, values: Partial<typeof enrolments.$inferInsert> = {}): Promise<Enrolled[]> {
  if (n === 0) return [];
  const leadRows = await db()
    .insert(leads)
    .values(Array.from({ length: n }, () => ({ accountId: x.account.id, email: `lead-${randomUUID()}@prospect.test`, firstName: 'Lee' })))
    .returning();
  const rows = await db()
    .insert(enrolments)
    .values(
      leadRows.map((lead) => ({
        accountId: x.account.id,
        sequenceId: x.sequence.id,
        leadId: lead.id,
        status: 'completed' as const,
        replyToken: randomUUID().replaceAll('-', ''),
        workflowStartedAt: hour(0),
        holdout: false,
        ...values,
      })),
    )
    .returning();
  return rows.map((e, i) => ({ enrolmentId: e.id, leadId: e.leadId, email: leadRows[i]!.email! }));
}

interface Email extends Enrolled {
  messageId: string;
}

/** The emails of a step that went to these enrolments, as `variant` (or none), sent at `at`. */
async function send(
  x: Experiment,
  to: Enrolled[],
  step: { id: string },
  variant: Variant | null,
  at: Date,
  values: Partial<typeof messages.$inferInsert> = {},
): Promise<Email[]> {
  if (to.length === 0) return [];
  const rows = await db()
    .insert(messages)
    .values(
      to.map((e) => ({
        accountId: x.account.id,
        enrolmentId: e.enrolmentId,
        leadId: e.leadId,
        stepId: step.id,
        variantId: variant?.id ?? null,
        idempotencyKey: `${e.enrolmentId}:${step.id}`,
        toEmail: e.email,
        fromEmail: 'sam@seller.test',
        subject: variant?.subject ?? 'Hello',
        html: '<p>Hello</p>',
        text: 'Hello',
        status: 'sent' as const,
        providerId: `re_${randomUUID()}`,
        sentAt: at,
        ...values,
      })),
    )
    .returning();
  if (variant) {
    await db()
      .insert(variantAssignments)
      .values(to.map((e) => ({ accountId: x.account.id, enrolmentId: e.enrolmentId, stepId: step.id, variantId: variant.id })));
  }
  return rows.map((m, i) => ({ ...to[i]!, messageId: m.id }));
}

/** `n` enrolments assigned `variant` of the step whose email has not gone yet. */
async function assignUnsent(x: Experiment, step: { id: string }, variant: Variant, n: number): Promise<Enrolled[]> {
  const waiting = await enrol(x, n, { status: 'active' });
  await db()
    .insert(variantAssignments)
    .values(waiting.map((e) => ({ accountId: x.account.id, enrolmentId: e.enrolmentId, stepId: step.id, variantId: variant.id })));
  return waiting;
}

/** What came back from these enrolments' leads at `at`: by default a real reply from the lead. */
async function inbound(
  x: Experiment,
  from: Enrolled[],
  at: Date,
  values: Partial<typeof inboundMessages.$inferInsert> & { sentiment?: ReplySentiment | null } = {},
) {
  if (from.length === 0) return [];
  return db()
    .insert(inboundMessages)
    .values(
      from.map((e) => ({
        accountId: x.account.id,
        enrolmentId: e.enrolmentId,
        leadId: e.leadId,
        fromEmail: e.email,
        subject: 'Re: Hello',
        text: 'Tell me more',
        receivedAt: at,
        processedAt: at,
        ...values,
      })),
    )
    .returning();
}

/** These leads unsubscribed at `at` (by the footer link, unless `source` says otherwise). */
async function unsubscribed(x: Experiment, who: Enrolled[], at: Date, source = 'link') {
  if (who.length === 0) return;
  await db()
    .insert(leadUnsubscriptions)
    .values(who.map((e) => ({ accountId: x.account.id, leadId: e.leadId, source, createdAt: at })));
  await db()
    .update(leads)
    .set({ unsubscribedAt: at })
    .where(
      inArray(
        leads.id,
        who.map((e) => e.leadId),
      ),
    );
}

/** These emails were reported as spam, as the Resend webhook records it. */
async function complainedOf(x: Experiment, emails: Email[]) {
  if (emails.length === 0) return;
  await db()
    .insert(enrolmentEvents)
    .values(
      emails.map((m) => ({
        accountId: x.account.id,
        enrolmentId: m.enrolmentId,
        type: 'email_complained',
        detail: { messageId: m.messageId },
      })),
    );
}

async function experimentOf(x: Experiment, stepId = x.step1.id) {
  const res = await x.api('GET', `/v1/sequences/${x.sequence.id}/steps/${stepId}/experiment`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { variants: any[]; comparison: any; decision: string; summary: string; attribution: string };
}
const variantIn = (answer: { variants: any[] }, label: string) => answer.variants.find((v) => v.label === label)!;

const portalEvent = (type: string, match: (data: Record<string, any>) => boolean) =>
  eventually(async () => portalEvents.find((e) => e.type === type && match(e.data)), { what: `${type} to the portal` });

// ── Specifications ──

describe('a seeded experiment: 200 sends of A with 20 replies against 200 of B with 35', () => {
  let x: Experiment;
  let answer: Awaited<ReturnType<typeof experimentOf>>;

  beforeAll(async () => {
    x = await experiment({ step1: ['active', 'active', 'removed'] });
    const { A, B } = x.step1.variants;
    const a = await send(x, await enrol(x, 200), x.step1, A!, hour(0));
    const b = await send(x, await enrol(x, 200), x.step1, B!, hour(0));
    await inbound(x, a.slice(0, 4), hour(2), { sentiment: 'positive' });
    await inbound(x, a.slice(4, 20), hour(2), { sentiment: 'negative' });
    await inbound(x, b.slice(0, 12), hour(2), { sentiment: 'positive' });
    await inbound(x, b.slice(12, 32), hour(2));
    // Someone else at the lead's company wrote back: a real reply too.
    await inbound(x, b.slice(32, 35), hour(2), { sender: 'lead_domain', fromEmail: 'colleague@prospect.test' });
    // A second reply of an enrolment that replied: still one enrolment that replied.
    await inbound(x, b.slice(0, 5), hour(30), { sentiment: 'positive' });
    // What is not a real reply, on both: never counted.
    for (const emails of [a.slice(100, 110), b.slice(100, 110)]) {
      await inbound(x, emails.slice(0, 4), hour(1), { classification: 'auto_reply', isAutoReply: true, action: 'record_only' });
      await inbound(x, emails.slice(4, 7), hour(1), { classification: 'out_of_office', isAutoReply: true, action: 'wait_for_return' });
      await inbound(x, emails.slice(7, 10), hour(1), { classification: 'from_other_address', sender: 'other', action: 'record_only' });
    }
    // A stranger's email a user corrected to a reply: not the lead's, so not the variant's.
    await inbound(x, a.slice(120, 122), hour(1), {
      sender: 'other',
      fromEmail: 'stranger@elsewhere.test',
      correctedFrom: 'from_other_address',
    });
    await db()
      .update(messages)
      .set({ status: 'delivered', deliveredAt: hour(0) })
      .where(inArray(messages.id, ids([...a.slice(0, 190), ...b.slice(0, 195)])));
    await db()
      .update(messages)
      .set({ status: 'bounced', bouncedAt: hour(0) })
      .where(inArray(messages.id, ids([...a.slice(190, 194), ...b.slice(195, 197)])));
    await db()
      .update(messages)
      .set({ firstOpenedAt: hour(1), openCount: 1 })
      .where(inArray(messages.id, ids([...a.slice(0, 80), ...b.slice(0, 90)])));
    await db()
      .update(messages)
      .set({ firstClickedAt: hour(1), clickCount: 1 })
      .where(inArray(messages.id, ids([...a.slice(0, 10), ...b.slice(0, 12)])));
    await unsubscribed(x, a.slice(150, 152), hour(3));
    await unsubscribed(x, b.slice(150, 151), hour(3));
    // A complaint unsubscribes its lead too: it counts as a complaint, not also as an unsubscribe.
    await complainedOf(x, a.slice(160, 161));
    await unsubscribed(x, a.slice(160, 161), hour(3), 'spam complaint');
    // Emails that did not reach the provider are not sends.
    await send(x, await enrol(x, 3), x.step1, A!, hour(0), { status: 'failed', sentAt: null });
    answer = await experimentOf(x);
  });
  const ids = (emails: Email[]) => emails.map((m) => m.messageId);

  it('counts what each variant’s emails did', () => {
    const { A, B } = x.step1.variants;
    expect(variantIn(answer, 'A')).toMatchObject({
      id: A!.id,
      status: 'active',
      assigned: 203,
      sent: 200,
      delivered: 190,
      bounced: 4,
      replied: 20,
      positiveReplies: 4,
      unsubscribed: 2,
      complained: 1,
      clicked: 10,
      opened: { count: 80, reliable: false },
    });
    expect(variantIn(answer, 'B')).toMatchObject({
      id: B!.id,
      assigned: 200,
      sent: 200,
      delivered: 195,
      bounced: 2,
      replied: 35,
      positiveReplies: 12,
      unsubscribed: 1,
      complained: 0,
      clicked: 12,
      opened: { count: 90, reliable: false },
    });
  });

  it('lists every variant, a removed one with its status and why it ended', () => {
    expect(answer.variants.map((v) => v.label)).toEqual(['A', 'B', 'C']);
    expect(variantIn(answer, 'C')).toMatchObject({ status: 'removed', endedReason: 'removed for the test', sent: 0, replied: 0 });
    expect(variantIn(answer, 'C').endedAt).toBe(hour(1).toISOString());
  });

  it('compares the variants with emails sent, with the probabilities experiment-stats gives for the same counts', () => {
    const best = probabilityBest([
      { sent: 200, replies: 20 },
      { sent: 200, replies: 35 },
    ]);
    expect(answer.comparison.variants.map((v: any) => v.label)).toEqual(['A', 'B']);
    expect(answer.comparison.variants.map((v: any) => v.probabilityBest)).toEqual(best);
    expect(best[1]).toBeCloseTo(0.985, 3);
  });

  it('gives each variant’s posterior mean and 95 % credible interval', () => {
    for (const [label, replies] of [
      ['A', 20],
      ['B', 35],
    ] as const) {
      const compared = answer.comparison.variants.find((v: any) => v.label === label);
      expect(compared).toMatchObject({ sent: 200, replied: replies, meanRate: (1 + replies) / 202 });
      expect(compared.credibleInterval).toEqual(credibleInterval(posteriorOf({ sent: 200, replies })));
    }
  });

  it('says in plain words that this is a decision for B', () => {
    expect(answer.comparison).toMatchObject({ decided: true, additionalSendsPerVariant: 0, leader: { label: 'B' } });
    expect(answer.decision).toBe('decided');
    expect(answer.summary).toBe('A decision: variant B leads with 98 % probability of the best reply rate.');
  });

  it('states the attribution rule it counts by', () => {
    expect(answer.attribution).toMatch(/latest email the enrolment had received/);
  });

  it('is the account’s own: another account, or a step of another sequence, is a 404', async () => {
    const stranger = await asNewAccount(service);
    const res = await stranger.api('GET', `/v1/sequences/${x.sequence.id}/steps/${x.step1.id}/experiment`);
    expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
    const other = await x.createSequence();
    expect((await x.api('GET', `/v1/sequences/${other.id}/steps/${x.step1.id}/experiment`)).status).toBe(404);
  });
});

describe('an experiment still undecided', () => {
  it('says about how many more sends per variant a decision needs', async () => {
    const x = await experiment();
    const { A, B } = x.step1.variants;
    await inbound(x, (await send(x, await enrol(x, 200), x.step1, A!, hour(0))).slice(0, 20), hour(2));
    await inbound(x, (await send(x, await enrol(x, 200), x.step1, B!, hour(0))).slice(0, 28), hour(2));
    const answer = await experimentOf(x);
    const stats = compareVariants([
      { sent: 200, replies: 20 },
      { sent: 200, replies: 28 },
    ]);
    expect(answer.comparison).toMatchObject({ decided: false, additionalSendsPerVariant: stats.additionalSendsPerVariant });
    expect(stats.additionalSendsPerVariant).toBe(168);
    expect(answer.decision).toBe('more_sends_needed');
    expect(answer.summary).toBe(
      'No decision yet: variant B leads with 89 % probability of the best reply rate; about 170 more sends per variant would decide it if every variant went on replying as it has so far.',
    );
  });

  it('says when no decision is in sight', async () => {
    const x = await experiment();
    const { A, B } = x.step1.variants;
    await inbound(x, (await send(x, await enrol(x, 100), x.step1, A!, hour(0))).slice(0, 10), hour(2));
    await inbound(x, (await send(x, await enrol(x, 100), x.step1, B!, hour(0))).slice(0, 10), hour(2));
    const answer = await experimentOf(x);
    expect([answer.decision, answer.comparison.additionalSendsPerVariant]).toEqual(['no_decision_in_sight', null]);
    expect(answer.summary).toMatch(/^No decision in sight: /);
  });

  it('makes no comparison while fewer than two variants have emails sent', async () => {
    const x = await experiment();
    await send(x, await enrol(x, 30), x.step1, x.step1.variants.A!, hour(0));
    const answer = await experimentOf(x);
    expect([answer.comparison, answer.decision]).toEqual([null, 'not_enough_variants']);
    expect(variantIn(answer, 'B')).toMatchObject({ sent: 0, assigned: 0 });
  });
});

describe('the attribution rule', () => {
  let x: Experiment;
  let step1: Record<string, any>;
  let step2: Record<string, any>;

  beforeAll(async () => {
    x = await experiment({ step2: ['active', 'active'] });
    const [afterStep2, beforeStep2, unsubscribedLater, complained] = await Promise.all([1, 1, 1, 1].map((n) => enrol(x, n)));
    const one = [...afterStep2!, ...beforeStep2!, ...unsubscribedLater!, ...complained!];
    const first = await send(x, one, x.step1, x.step1.variants.A!, hour(0));
    await send(x, one, x.step2, x.step2.variants.B!, hour(72));
    await inbound(x, afterStep2!, hour(80));
    await inbound(x, beforeStep2!, hour(5));
    await unsubscribed(x, unsubscribedLater!, hour(90));
    await complainedOf(
      x,
      first.filter((m) => m.enrolmentId === complained![0]!.enrolmentId),
    );
    await db()
      .update(messages)
      .set({ status: 'bounced', bouncedAt: hour(100) })
      .where(and(eq(messages.enrolmentId, afterStep2![0]!.enrolmentId), eq(messages.stepId, x.step1.id)));
    step1 = variantIn(await experimentOf(x, x.step1.id), 'A');
    step2 = variantIn(await experimentOf(x, x.step2.id), 'B');
  });

  it('gives a reply after step 2 arrived to step 2’s variant, not step 1’s', () => {
    expect(step2.replied).toBe(1);
  });

  it('gives a reply before step 2 to step 1’s variant', () => {
    expect(step1.replied).toBe(1);
  });

  it('gives an unsubscribe to the latest email the lead had received', () => {
    expect([step1.unsubscribed, step2.unsubscribed]).toEqual([0, 1]);
  });

  it('gives a complaint and a bounce to their own email, whatever came after', () => {
    expect([step1.complained, step1.bounced]).toEqual([1, 1]);
    expect([step2.complained, step2.bounced]).toEqual([0, 0]);
  });
});

describe('a reply through the inbound path', () => {
  let x: Experiment;
  let lead: Email;
  let inboundId: string;

  beforeAll(async () => {
    x = await experiment({ step2: ['active', 'active'], portal: true });
    const [enrolled] = await enrol(x, 1);
    await send(x, [enrolled!], x.step1, x.step1.variants.A!, hour(0));
    lead = (await send(x, [enrolled!], x.step2, x.step2.variants.B!, hour(72)))[0]!;
    const [row] = await db().select().from(enrolments).where(eq(enrolments.id, lead!.enrolmentId));
    const delivered = await deliverReplyMime(service.baseUrl, inboundSecret, { from: lead!.email, replyToken: row!.replyToken });
    expect(delivered.body).toMatchObject({ outcome: 'reply recorded' });
    [{ id: inboundId }] = (await db()
      .select({ id: inboundMessages.id })
      .from(inboundMessages)
      .where(eq(inboundMessages.enrolmentId, lead!.enrolmentId))) as [{ id: string }];
  });

  it('is counted for the variant of the latest email, step 2’s B', async () => {
    expect(variantIn(await experimentOf(x, x.step2.id), 'B').replied).toBe(1);
    expect(variantIn(await experimentOf(x, x.step1.id), 'A').replied).toBe(0);
  });

  it('reaches the portal as reply.received with that variant', async () => {
    const event = await portalEvent('reply.received', (d) => d.inboundId === inboundId);
    expect(event.data.variant).toEqual({ stepId: x.step2.id, variantId: x.step2.variants.B!.id, label: 'B' });
  });

  it('reaches the portal as inbound.classified with that variant', async () => {
    const event = await portalEvent('inbound.classified', (d) => d.inboundId === inboundId);
    expect(event.data.variant).toEqual({ stepId: x.step2.id, variantId: x.step2.variants.B!.id, label: 'B' });
  });

  it('shows no sentiment until a user gives one', async () => {
    const res = await x.api('GET', `/v1/inbound-emails/${inboundId}`);
    expect(res.body.sentiment).toBeNull();
  });

  it('counts as a positive reply once a user marks it so', async () => {
    const res = await x.api('POST', `/v1/inbound-emails/${inboundId}/sentiment`, { sentiment: 'positive' });
    expect([res.status, res.body.sentiment]).toEqual([200, 'positive']);
    expect((await x.api('GET', `/v1/inbound-emails/${inboundId}`)).body.sentiment).toBe('positive');
    expect(variantIn(await experimentOf(x, x.step2.id), 'B').positiveReplies).toBe(1);
  });

  it('stops counting as positive when a user clears it', async () => {
    await x.api('POST', `/v1/inbound-emails/${inboundId}/sentiment`, { sentiment: 'positive' });
    const res = await x.api('POST', `/v1/inbound-emails/${inboundId}/sentiment`, { sentiment: null });
    expect([res.status, res.body.sentiment]).toEqual([200, null]);
    expect(variantIn(await experimentOf(x, x.step2.id), 'B').positiveReplies).toBe(0);
  });
});

describe('a user’s judgement of an inbound email', () => {
  it('is refused for what is not a reply, with 409 not_a_reply, and nothing changes', async () => {
    const x = await experiment();
    const [auto] = await inbound(x, await enrol(x, 1), hour(1), { classification: 'auto_reply', isAutoReply: true, action: 'record_only' });
    const res = await x.api('POST', `/v1/inbound-emails/${auto!.id}/sentiment`, { sentiment: 'positive' });
    expect([res.status, res.body.error.code]).toEqual([409, 'not_a_reply']);
    const [row] = await db().select().from(inboundMessages).where(eq(inboundMessages.id, auto!.id));
    expect(row!.sentiment).toBeNull();
  });

  it('is refused for a word that is not a sentiment (400)', async () => {
    const x = await experiment();
    const [reply] = await inbound(x, await enrol(x, 1), hour(1));
    const res = await x.api('POST', `/v1/inbound-emails/${reply!.id}/sentiment`, { sentiment: 'ecstatic' });
    expect([res.status, res.body.error.code]).toEqual([400, 'validation_error']);
  });

  it('is the account’s own: another account’s email is a 404', async () => {
    const x = await experiment();
    const [reply] = await inbound(x, await enrol(x, 1), hour(1));
    const stranger = await asNewAccount(service);
    const res = await stranger.api('POST', `/v1/inbound-emails/${reply!.id}/sentiment`, { sentiment: 'positive' });
    expect(res.status).toBe(404);
  });
});

describe('the holdout', () => {
  let x: Experiment;
  let answer: Record<string, any>;

  beforeAll(async () => {
    x = await experiment({ step1: [] });
    const held = await enrol(x, 20, { holdout: true });
    const rest = await enrol(x, 177);
    const live = await enrol(x, 3, { status: 'active' });
    await send(x, [...held, ...rest, ...live], x.step1, null, hour(0));
    await send(x, rest, x.step2, null, hour(72));
    await inbound(x, held.slice(0, 2), hour(5));
    await inbound(x, rest.slice(0, 20), hour(5));
    await inbound(x, rest.slice(20, 36), hour(80));
    // Not real replies, and enrolments not yet decided or never sent to: none of them count.
    await inbound(x, held.slice(10, 15), hour(5), { classification: 'out_of_office', isAutoReply: true, action: 'wait_for_return' });
    await send(x, await enrol(x, 5, { holdout: null }), x.step1, null, hour(0));
    await enrol(x, 5);
    answer = (await x.api('GET', `/v1/sequences/${x.sequence.id}/holdout`)).body;
  });

  it('counts the enrolments held out and the rest, and who replied for real after any step', () => {
    expect(answer.holdout).toMatchObject({ enrolments: 20, replied: 2, live: 0 });
    expect(answer.followUps).toMatchObject({ enrolments: 180, replied: 36, live: 3 });
  });

  it('gives each group’s reply rate with its credible interval', () => {
    expect(answer.holdout.meanRate).toBe(3 / 22);
    expect(answer.holdout.credibleInterval).toEqual(credibleInterval(posteriorOf({ sent: 20, replies: 2 })));
    expect(answer.followUps.credibleInterval).toEqual(credibleInterval(posteriorOf({ sent: 180, replies: 36 })));
  });

  it('gives the probability that the follow-ups beat the holdout, as experiment-stats does', () => {
    const [better] = probabilityBest([
      { sent: 180, replies: 36 },
      { sent: 20, replies: 2 },
    ]);
    expect(answer.probabilityFollowUpsBetter).toBe(better);
    expect(answer.summary).toMatch(
      /^The follow-ups beat the holdout with \d+ % probability: with follow-ups 36 of 180 enrolments replied \(20\.0 %\), without 2 of 20 enrolments replied \(10\.0 %\)\. 3 enrolments are still under way/,
    );
  });

  it('is the account’s own', async () => {
    const stranger = await asNewAccount(service);
    expect((await stranger.api('GET', `/v1/sequences/${x.sequence.id}/holdout`)).status).toBe(404);
  });
});

describe('a variant with many unsubscribes', () => {
  // 7 of B's 200 leads unsubscribed against 2 of A's: 94.8 % likely worse, short of the 95 % a
  // guardrail needs; the eighth, through the real link, makes it 96.9 %.
  let x: Experiment;
  let before: Awaited<ReturnType<typeof experimentOf>>;
  let after: Awaited<ReturnType<typeof experimentOf>>;
  let waitingForB: Enrolled[];
  let last: Email;

  beforeAll(async () => {
    x = await experiment({ portal: true });
    const { A, B } = x.step1.variants;
    const a = await send(x, await enrol(x, 200), x.step1, A!, hour(0));
    const b = await send(x, await enrol(x, 200), x.step1, B!, hour(0));
    await unsubscribed(x, a.slice(0, 2), hour(5));
    await unsubscribed(x, b.slice(0, 7), hour(5));
    waitingForB = await assignUnsent(x, x.step1, B!, 6);
    await assignUnsent(x, x.step1, A!, 4);
    before = await experimentOf(x);
    last = b[100]!;
    const res = await fetch(`${service.baseUrl}/u/${unsubscribeToken(service.config.UNSUBSCRIBE_SECRET, last.messageId)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).toBe(200);
    after = await experimentOf(x);
  });

  it('is not stopped while it falls short of the guardrail', () => {
    expect(variantIn(before, 'B')).toMatchObject({ status: 'active', unsubscribed: 7, endedReason: null });
  });

  it('is stopped by the next unsubscribe, with the guardrail’s figures as the reason', () => {
    expect(variantIn(after, 'B')).toMatchObject({ status: 'stopped', unsubscribed: 8 });
    expect(variantIn(after, 'B').endedReason).toBe(
      'stopped by the unsubscribe guardrail: 8 of 200 leads (4.0 %) against 2 of 200 (1.0 %) for the other variants; 96.9 % likely to be worse',
    );
    expect(variantIn(after, 'B').endedAt).not.toBeNull();
  });

  it('leaves the other variant active', () => {
    expect(variantIn(after, 'A').status).toBe('active');
  });

  it('shows the variant left as the step’s own content', async () => {
    const [step] = await db().select().from(steps).where(eq(steps.id, x.step1.id));
    expect([step!.subject, step!.body]).toEqual(['Subject A', 'Body A']);
  });

  it('moves its unsent assignments to the variant left', async () => {
    const rows = await db()
      .select({ variantId: variantAssignments.variantId, movedAt: variantAssignments.movedAt })
      .from(variantAssignments)
      .where(
        inArray(
          variantAssignments.enrolmentId,
          waitingForB.map((e) => e.enrolmentId),
        ),
      );
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row).toMatchObject({ variantId: x.step1.variants.A!.id, movedAt: expect.any(Date) });
    expect([variantIn(after, 'A').assigned, variantIn(after, 'B').assigned]).toEqual([210, 200]);
  });

  it('keeps what it sent in the experiment’s figures', () => {
    expect(variantIn(after, 'B').sent).toBe(200);
    expect(after.comparison.variants.map((v: any) => v.label)).toEqual(['A', 'B']);
  });

  it('tells the user why, in a notification', async () => {
    const { body } = await x.api('GET', '/v1/notifications');
    const notification = body.data.find((n: any) => n.type === 'experiment_variant_stopped');
    expect(notification).toMatchObject({ title: 'Variant B of step 1 in "Post-event follow-up" was stopped', read: false });
    expect(notification.body).toContain('8 of 200 leads (4.0 %)');
    expect(notification.body).toContain('6 enrolments waiting for it will get variant A instead');
  });

  it('tells the portal with experiment.variant_stopped', async () => {
    const { B } = x.step1.variants;
    const event = await portalEvent('experiment.variant_stopped', (d) => d.variant?.variantId === B!.id);
    expect(event.data).toMatchObject({
      sequenceId: x.sequence.id,
      stepId: x.step1.id,
      variant: { stepId: x.step1.id, variantId: B!.id, label: 'B' },
      metric: 'unsubscribed',
      reason: variantIn(after, 'B').endedReason,
      movedUnsent: 6,
    });
  });

  it('tells the portal of the unsubscribe with the variant it is attributed to', async () => {
    const event = await portalEvent('lead.unsubscribed', (d) => d.leadId === last.leadId);
    expect(event.data.variant).toEqual({ stepId: x.step1.id, variantId: x.step1.variants.B!.id, label: 'B' });
  });
});

describe('a variant with complaints', () => {
  it('is stopped by the complaint that makes two, arriving as a Resend webhook', async () => {
    const x = await experiment({ portal: true });
    const { A, B } = x.step1.variants;
    await send(x, await enrol(x, 300), x.step1, A!, hour(0));
    const b = await send(x, await enrol(x, 100), x.step1, B!, hour(0));
    await complainedOf(x, b.slice(0, 1));
    expect(variantIn(await experimentOf(x), 'B')).toMatchObject({ status: 'active', complained: 1 });
    const [message] = await db().select().from(messages).where(eq(messages.id, b[50]!.messageId));
    const res = await deliverWebhook(service.baseUrl, webhookSecret, {
      type: 'email.complained',
      data: { email_id: message!.providerId, tags: { message_id: message!.id } },
    });
    expect(res.body).toMatchObject({ outcome: 'complaint: lead unsubscribed' });
    const answer = await eventually(async () => {
      const now = await experimentOf(x);
      return variantIn(now, 'B').status === 'stopped' && now;
    });
    expect(variantIn(answer, 'B')).toMatchObject({ complained: 2, unsubscribed: 0 });
    expect(variantIn(answer, 'B').endedReason).toMatch(/^stopped by the complaint guardrail: 2 of 100 leads \(2\.0 %\)/);
    const event = await portalEvent('lead.unsubscribed', (d) => d.leadId === b[50]!.leadId);
    expect(event.data).toMatchObject({ source: 'spam complaint', variant: { variantId: B!.id, label: 'B' } });
  });
});

describe('a step without variants', () => {
  it('tells the portal of an unsubscribe with no variant', async () => {
    const x = await experiment({ step1: [], portal: true });
    const [email] = await send(x, await enrol(x, 1), x.step1, null, hour(0));
    await fetch(`${service.baseUrl}/u/${unsubscribeToken(service.config.UNSUBSCRIBE_SECRET, email!.messageId)}`, { method: 'POST' });
    const event = await portalEvent('lead.unsubscribed', (d) => d.leadId === email!.leadId);
    expect(event.data.variant).toBeNull();
  });
});
