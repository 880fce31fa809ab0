import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundMessages, messages, notifications } from '../db/schema.js';
import { inboundWorld } from './helpers/inbound.js';
import { startResendSink, type ResendSink } from './helpers/resend-sink.js';
import { eventually } from './helpers/service.js';

/**
 * Issue 14, section 6: one webhook event id is applied exactly once, however many deliveries of
 * it arrive at once, and a crash between recording the id and applying the event re-applies nothing.
 */
let sink: ResendSink;
let world: Awaited<ReturnType<typeof inboundWorld>>;

beforeAll(async () => {
  sink = await startResendSink();
  world = await inboundWorld(sink);
});
afterAll(async () => {
  await world.service.stop();
  await sink.close();
});

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
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((a) => a.body.outcome === 'reply recorded')).toHaveLength(1);
    expect(answers.filter((a) => a.body.duplicate)).toHaveLength(19);
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
