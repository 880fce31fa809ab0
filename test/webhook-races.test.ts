import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { handleInboundEmail, receiveWebhookEvent } from '../api/services/inbound.js';
import { inboundMessages, messages, notifications, webhookEvents } from '../db/schema.js';
import { inboundWorldForFile, type InboundWorld } from './helpers/inbound.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, logger } from './helpers/service.js';

/**
 * Issue 14, section 6: one webhook event id is applied exactly once, however many deliveries of
 * it arrive at once, and a crash between recording the id and applying the event re-applies nothing.
 */
let sink: ResendSink;
let world: InboundWorld;
inboundWorldForFile((s, w) => ([sink, world] = [s, w]));

const messageRow = async (id: string) => (await world.db.select().from(messages).where(eq(messages.id, id)))[0]!;
const countOf = (types: string[], type: string) => types.filter((t) => t === type).length;
/** The same delivery `times` times at once: one event id, one signature. */
const atOnce = <T>(times: number, deliver: () => Promise<T>) => Promise.all(Array.from({ length: times }, deliver));

describe('20 simultaneous deliveries of one webhook event', () => {
  it('count one click and write one timeline event', async () => {
    const lead = await world.leadWaitingForStep2();
    const id = `msg_${randomUUID()}`;
    const answers = await atOnce(20, () =>
      world.webhook('email.clicked', { email_id: lead.message.providerId, click: { link: 'https://acme.test' } }, { id }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((a) => a.body.outcome === 'click recorded')).toHaveLength(1);
    expect(answers.filter((a) => a.body.duplicate)).toHaveLength(19);
    expect((await messageRow(lead.message.id)).clickCount).toBe(1);
    expect(countOf(await world.timelineTypes(lead.enrolment.id), 'email_clicked')).toBe(1);
  });

  it('of a received reply record one reply, one notification and one forward', async () => {
    const lead = await world.leadWaitingForStep2();
    const receivedId = sink.addReceived({
      from: lead.lead.email,
      to: [lead.replyAddress],
      received_for: [lead.replyAddress],
      subject: 'Re: Step 1',
      text: 'Yes.',
      html: null,
      headers: {},
      cc: [],
      bcc: [],
    });
    const id = `msg_${randomUUID()}`;
    const answers = await atOnce(20, () => world.webhook('email.received', { email_id: receivedId }, { id }));
    // One applies it; the others are duplicates, or (while its side effects are still at work) a
    // 503 the provider delivers again, which then finds it done.
    expect(answers.filter((a) => a.body.outcome === 'reply recorded')).toHaveLength(1);
    const retried = answers.filter((a) => a.status === 503);
    for (const answer of retried) expect(answer.body.error.code).toBe('inbound_in_progress');
    expect(answers.filter((a) => a.status === 200 && a.body.duplicate)).toHaveLength(19 - retried.length);
    await eventually(
      async () => (await world.db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, lead.enrolment.id)))[0]?.processedAt,
      { what: 'the first delivery to finish its side effects' },
    );
    const again = await world.webhook('email.received', { email_id: receivedId }, { id });
    expect([again.status, again.body.duplicate]).toEqual([200, true]);
    await lead.waitForStatus(lead.enrolment.id, 'replied');
    expect(await world.db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, lead.enrolment.id))).toHaveLength(1);
    expect(await world.db.select().from(notifications).where(eq(notifications.accountId, lead.account.id))).toHaveLength(1);
    expect(countOf(await world.timelineTypes(lead.enrolment.id), 'reply')).toBe(1);
    await eventually(async () => sink.emails.some((e) => e.payload.to === lead.account.senderEmail), { what: 'the forward' });
    expect(sink.emails.filter((e) => e.payload.to === lead.account.senderEmail)).toHaveLength(1);
  });
});

describe('a delivery that fails after its event id was recorded', () => {
  it('leaves nothing applied, so its redelivery applies the event once', async () => {
    const lead = await world.leadWaitingForStep2();
    // A fault injected into the database: the first timeline write for this message fails (a
    // sequence, unlike a table, is not rolled back with the transaction that failed).
    const tag = `t${randomUUID().replaceAll('-', '')}`;
    await world.db.execute(sql.raw(`create sequence ${tag}_seq`));
    await world.db.execute(
      sql.raw(`create function ${tag}_fail() returns trigger language plpgsql as $$
        begin
          if new.detail->>'messageId' = '${lead.message.id}' and nextval('${tag}_seq') = 1 then raise exception 'injected fault'; end if;
          return new;
        end $$`),
    );
    await world.db.execute(sql.raw(`create trigger ${tag} before insert on enrolment_events for each row execute function ${tag}_fail()`));
    try {
      const id = `msg_${randomUUID()}`;
      const first = await world.webhook(
        'email.clicked',
        { email_id: lead.message.providerId, click: { link: 'https://acme.test' } },
        { id },
      );
      expect(first.status).toBe(500);
      const again = await world.webhook(
        'email.clicked',
        { email_id: lead.message.providerId, click: { link: 'https://acme.test' } },
        { id },
      );
      expect([again.status, again.body.outcome]).toEqual([200, 'click recorded']);
      expect((await messageRow(lead.message.id)).clickCount).toBe(1);
      expect(countOf(await world.timelineTypes(lead.enrolment.id), 'email_clicked')).toBe(1);
    } finally {
      await world.db.execute(sql.raw(`drop trigger ${tag} on enrolment_events; drop function ${tag}_fail(); drop sequence ${tag}_seq`));
    }
  });
});

/** How many runs of the workflow `workflowId` there have been (a closed id started again is a new run). */
const runsOf = async (workflowId: string) => {
  let runs = 0;
  for await (const _ of world.service.temporal.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs++;
  return runs;
};
const replySignalsOf = async (enrolmentId: string) => {
  const history = await world.service.temporal.workflow.getHandle(`enrolment-${enrolmentId}`).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'reply').length;
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 2_000));

describe('the same inbound email delivered again', () => {
  it('three times, one after the other, forwards once, notifies once and signals once', async () => {
    // onReply pause: the enrolment stays live, so a repeated side effect would signal it again.
    const lead = await world.leadWaitingForStep2({ onReply: 'pause' });
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email!);
    expect((await world.postMime(mime)).body.outcome).toBe('reply recorded');
    await lead.waitForStatus(lead.enrolment.id, 'paused');
    const [stored] = await world.inboundOf(lead.enrolment.id);
    await eventually(
      async () => (await world.db.select().from(inboundMessages).where(eq(inboundMessages.id, stored!.id)))[0]!.processedAt,
      {
        what: 'the first delivery to finish its side effects',
      },
    );
    await eventually(async () => (await runsOf(`reply-forward-${stored!.id}`)) === 1 || undefined, { what: 'the forward' });
    for (const _ of [2, 3]) expect((await world.postMime(mime)).body.outcome).toBe('already received');
    await settle();
    expect(await world.inboundOf(lead.enrolment.id)).toHaveLength(1);
    expect(await runsOf(`reply-forward-${stored!.id}`)).toBe(1);
    expect(await world.notificationsOf(lead.account.id)).toHaveLength(1);
    expect(await replySignalsOf(lead.enrolment.id)).toBe(1);
  });

  it('after the first delivery died between its commit and its side effects, runs them, once the lease is over', async () => {
    const lead = await world.leadWaitingForStep2({ onReply: 'pause' });
    const messageId = `<${randomUUID()}@lead.test>`;
    // The first delivery commits, then its process dies before any side effect (Temporal unreachable from here on).
    const dead = new Proxy({} as Client, {
      get() {
        throw new Error('the process died');
      },
    });
    const email = {
      providerId: messageId,
      from: lead.lead.email!,
      to: [lead.replyAddress],
      subject: 'Re: Step 1',
      text: 'Yes.',
      headers: {},
    };
    await expect(handleInboundEmail({ db: world.db, temporal: dead, config: world.service.config, logger }, email)).rejects.toThrow(
      'the process died',
    );
    const [stored] = await world.inboundOf(lead.enrolment.id);
    expect(stored!.processedAt).toBeNull();

    // A redelivery within the lease (a provider retrying the failed delivery after seconds, or
    // racing a first delivery still at work) does nothing, and answers so that it is delivered
    // again: a 200 would end the retries, and the side effects would never run.
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email!, { messageId });
    const quick = await world.postMime(mime);
    expect([quick.status, quick.body.error?.code]).toEqual([503, 'inbound_in_progress']);
    await settle();
    expect((await lead.enrolmentRow(lead.enrolment.id)).status).toBe('active');
    expect((await world.inboundOf(lead.enrolment.id))[0]!.processedAt).toBeNull();

    // After it, the redelivery takes the side effects over.
    await world.db
      .update(inboundMessages)
      .set({ receivedAt: sql`now() - interval '2 minutes'` })
      .where(eq(inboundMessages.id, stored!.id));
    expect((await world.postMime(mime)).body.outcome).toBe('already received');
    await lead.waitForStatus(lead.enrolment.id, 'paused');
    await eventually(async () => sink.emails.some((e) => e.payload.to === lead.account.senderEmail), { what: 'the forward' });
    const [after] = await world.inboundOf(lead.enrolment.id);
    expect(after!.processedAt).not.toBeNull();
    // And a later one, nothing more.
    expect((await world.postMime(mime)).body.outcome).toBe('already received');
    await settle();
    expect(await runsOf(`reply-forward-${stored!.id}`)).toBe(1);
    expect(await replySignalsOf(lead.enrolment.id)).toBe(1);
  });

  it('under the same Message-ID but addressed to another account is that account’s own email, with its own side effects', async () => {
    const first = await world.leadWaitingForStep2({ onReply: 'pause' });
    const second = await world.leadWaitingForStep2({ onReply: 'pause' });
    const messageId = `<${randomUUID()}@lead.test>`;
    expect((await world.postMime(world.mimeReply(first.replyAddress, first.lead.email!, { messageId }))).body.outcome).toBe(
      'reply recorded',
    );
    await first.waitForStatus(first.enrolment.id, 'paused');
    expect((await world.postMime(world.mimeReply(second.replyAddress, second.lead.email!, { messageId }))).body.outcome).toBe(
      'reply recorded',
    );
    await second.waitForStatus(second.enrolment.id, 'paused');
    const [mine] = await world.inboundOf(first.enrolment.id);
    const [theirs] = await world.inboundOf(second.enrolment.id);
    expect([mine!.accountId, theirs!.accountId]).toEqual([first.account.id, second.account.id]);
    expect(theirs!.id).not.toBe(mine!.id);
    await eventually(async () => (await runsOf(`reply-forward-${theirs!.id}`)) === 1 || undefined, {
      what: 'the second account’s forward',
    });
    // A repeat to the first account runs nothing of the second's, nor of its own again.
    expect((await world.postMime(world.mimeReply(first.replyAddress, first.lead.email!, { messageId }))).body.outcome).toBe(
      'already received',
    );
    await settle();
    expect(await world.notificationsOf(second.account.id)).toHaveLength(1);
    expect(await runsOf(`reply-forward-${theirs!.id}`)).toBe(1);
    expect(await runsOf(`reply-forward-${mine!.id}`)).toBe(1);
  });
});

/** A Temporal client for a process whose Temporal is away: every call throws. */
const unreachable = () =>
  new Proxy({} as Client, {
    get() {
      throw new Error('Temporal is unreachable');
    },
  });

describe('a delivery whose side effects failed after its commit (Temporal briefly away)', () => {
  it('of a Resend email.received: the provider’s quick retry is a 503 it retries, and one after the lease runs them', async () => {
    const lead = await world.leadWaitingForStep2({ onReply: 'pause' });
    const receivedId = sink.addReceived({
      from: lead.lead.email,
      to: [lead.replyAddress],
      received_for: [lead.replyAddress],
      subject: 'Re: Step 1',
      text: 'Yes.',
      html: null,
      headers: {},
      cc: [],
      bcc: [],
    });
    const id = `msg_${randomUUID()}`;
    const event = { type: 'email.received', data: { email_id: receivedId } };
    await expect(
      receiveWebhookEvent({ db: world.db, temporal: unreachable(), config: world.service.config, logger }, id, event),
    ).rejects.toThrow('Temporal is unreachable');
    const [stored] = await world.inboundOf(lead.enrolment.id);
    expect(stored!.processedAt).toBeNull();

    // Svix retries after about 5 s: inside the lease, so it must not be told 200.
    const quick = await world.webhook('email.received', { email_id: receivedId }, { id });
    expect([quick.status, quick.body.error?.code]).toEqual([503, 'inbound_in_progress']);
    await settle();
    expect((await lead.enrolmentRow(lead.enrolment.id)).status).toBe('active');

    // Its next retry, after the lease: the side effects run, once.
    await world.db
      .update(webhookEvents)
      .set({ receivedAt: sql`now() - interval '2 minutes'` })
      .where(eq(webhookEvents.id, id));
    await world.db
      .update(inboundMessages)
      .set({ receivedAt: sql`now() - interval '2 minutes'` })
      .where(eq(inboundMessages.id, stored!.id));
    const later = await world.webhook('email.received', { email_id: receivedId }, { id });
    expect([later.status, later.body.duplicate]).toEqual([200, true]);
    await lead.waitForStatus(lead.enrolment.id, 'paused');
    await eventually(async () => (await runsOf(`reply-forward-${stored!.id}`)) === 1 || undefined, { what: 'the forward' });
    expect((await world.inboundOf(lead.enrolment.id))[0]!.processedAt).not.toBeNull();
    expect((await world.db.select().from(webhookEvents).where(eq(webhookEvents.id, id)))[0]!.processedAt).not.toBeNull();
    // And the retries after that: 200, nothing more.
    const last = await world.webhook('email.received', { email_id: receivedId }, { id });
    expect([last.status, last.body.duplicate]).toEqual([200, true]);
    await settle();
    expect(await runsOf(`reply-forward-${stored!.id}`)).toBe(1);
    expect(await replySignalsOf(lead.enrolment.id)).toBe(1);
  });

  it('of an event with nothing to do after its commit (a click): a concurrent duplicate is a 200, never a 503', async () => {
    const lead = await world.leadWaitingForStep2();
    const id = `msg_${randomUUID()}`;
    const answers = await atOnce(5, () =>
      world.webhook('email.clicked', { email_id: lead.message.providerId, click: { link: 'https://acme.test' } }, { id }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(5).fill(200));
    expect((await world.db.select().from(webhookEvents).where(eq(webhookEvents.id, id)))[0]!.processedAt).not.toBeNull();
  });
});

describe('two truly concurrent deliveries of one raw MIME email', () => {
  it('apply it once: the other is a duplicate, or a 503 whose redelivery finds it done', async () => {
    const lead = await world.leadWaitingForStep2({ onReply: 'pause' });
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email!);
    const answers = await atOnce(2, () => world.postMime(mime));
    expect(answers.filter((a) => a.status === 200 && a.body.outcome === 'reply recorded')).toHaveLength(1);
    const other = answers.find((a) => a.body.outcome !== 'reply recorded')!;
    expect(
      (other.status === 200 && other.body.outcome === 'already received') ||
        (other.status === 503 && other.body.error.code === 'inbound_in_progress'),
      JSON.stringify(other),
    ).toBe(true);
    await lead.waitForStatus(lead.enrolment.id, 'paused');
    const [stored] = await world.inboundOf(lead.enrolment.id);
    await eventually(
      async () => (await world.db.select().from(inboundMessages).where(eq(inboundMessages.id, stored!.id)))[0]!.processedAt,
      {
        what: 'the side effects to finish',
      },
    );
    const again = await world.postMime(mime);
    expect([again.status, again.body.outcome]).toEqual([200, 'already received']);
    await settle();
    expect(await world.inboundOf(lead.enrolment.id)).toHaveLength(1);
    expect(await world.notificationsOf(lead.account.id)).toHaveLength(1);
    expect(await runsOf(`reply-forward-${stored!.id}`)).toBe(1);
    expect(await replySignalsOf(lead.enrolment.id)).toBe(1);
  });
});
