import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts, enrolmentEvents, messages, senders } from '../db/schema.js';
import { enrolmentWorkflowId, stateQuery } from '../workflows/contract.js';
import { inboundWorldForFile, type InboundWorld } from './helpers/inbound.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually } from './helpers/service.js';
import { asNewAccount } from './helpers/fixtures.js';

/**
 * Issue 16: every rep sends as themselves. An account has many senders; an enrolment is bound to
 * one when its lead is enrolled; its emails come from that sender, replies go back to them, their
 * own daily cap counts, and retiring them pauses or moves what they had in flight.
 */
let sink: ResendSink;
let world: InboundWorld;
inboundWorldForFile((s, w) => ([sink, world] = [s, w]));

const service = () => world.service;
const emailsTo = (address: string) => sink.emails.filter((e) => e.payload.to === address);
const minutes = (amount: number) => ({ amount, unit: 'minutes' });
const threeSteps = [0, 0, 0].map((amount, i) => ({
  subject: `Step ${i + 1} for {{ first_name }}`,
  body: `Hi {{ first_name }}, step ${i + 1}. {{ sender.name }} here.`,
  delay: minutes(amount),
}));

/** An account whose sending domain acme.test is verified, with its default sender Sam. */
async function accountWithDomain() {
  const fixture = await asNewAccount(service(), { senderEmail: `sam-${randomUUID().slice(0, 8)}@acme.test` });
  await world.db
    .update(accounts)
    .set({ sendingDomain: 'acme.test', sendingDomainVerifiedAt: new Date() })
    .where(eq(accounts.id, fixture.account.id));
  /** A sender made through the API (confirmed straight in the database unless told not to). */
  async function createSender(name: string, values: Record<string, unknown> = {}, options: { confirmed?: boolean } = {}) {
    const local = `${name.toLowerCase().replace(/\W+/g, '.')}-${randomUUID().slice(0, 8)}`;
    const res = await fixture.api('POST', '/v1/senders', { name, email: `${local}@acme.test`, ...values });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    if (options.confirmed !== false)
      await world.db.update(senders).set({ emailConfirmedAt: new Date() }).where(eq(senders.id, res.body.id));
    return res.body as { id: string; name: string; email: string };
  }
  async function enrolAs(sequenceId: string, leadId: string, senderId?: string) {
    const res = await fixture.api('POST', `/v1/sequences/${sequenceId}/enrolments`, { leadId, ...(senderId ? { senderId } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; senderId: string | null };
  }
  const messagesOf = (enrolmentId: string) =>
    world.db.select().from(messages).where(eq(messages.enrolmentId, enrolmentId)).orderBy(messages.createdAt);
  const timeline = (enrolmentId: string) => world.db.select().from(enrolmentEvents).where(eq(enrolmentEvents.enrolmentId, enrolmentId));
  return { ...fixture, createSender, enrolAs, messagesOf, timeline };
}

describe('two reps in one account', () => {
  it('send each lead’s three steps as the lead’s own rep: From, signature and {{ sender.name }}', async () => {
    const acme = await accountWithDomain();
    const ann = await acme.createSender('Ann Rep', { signature: 'Ann Rep, Sales' });
    const bob = await acme.createSender('Bob Rep', { signature: 'Bob Rep, Sales' });
    const sequence = await acme.createSequence({ steps: threeSteps });
    const [leadA, leadB] = [await acme.createLead({ firstName: 'Ada' }), await acme.createLead({ firstName: 'Ben' })];
    const toAnn = await acme.enrolAs(sequence.id, leadA.id, ann.id);
    const toBob = await acme.enrolAs(sequence.id, leadB.id, bob.id);
    expect([toAnn.senderId, toBob.senderId]).toEqual([ann.id, bob.id]);
    await acme.waitForStatus(toAnn.id, 'completed', 60_000);
    await acme.waitForStatus(toBob.id, 'completed', 60_000);

    const fromOf = (address: string) => emailsTo(address).map((e) => e.payload.from);
    expect(fromOf(leadA.email)).toEqual(Array(3).fill(`"Ann Rep" <${ann.email}>`));
    expect(fromOf(leadB.email)).toEqual(Array(3).fill(`"Bob Rep" <${bob.email}>`));
    for (const email of emailsTo(leadA.email)) {
      expect(email.payload.text).toContain('Ann Rep here.');
      expect(email.payload.text).toContain('Ann Rep, Sales');
      expect(email.payload.text).not.toContain('Bob');
    }
    expect((await acme.messagesOf(toBob.id)).map((m) => m.senderId)).toEqual([bob.id, bob.id, bob.id]);
  });

  it('list what one rep has in flight by the SenderId search attribute', async () => {
    const acme = await accountWithDomain();
    const ann = await acme.createSender('Ann Rep');
    const sequence = await acme.createSequence({ steps: [{ delay: { amount: 5, unit: 'days' } }] });
    const enrolment = await acme.enrolAs(sequence.id, (await acme.createLead()).id, ann.id);
    const listed = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const w of service().temporal.workflow.list({ query: `SenderId = "${ann.id}"` })) ids.push(w.workflowId);
        return ids.length ? ids : undefined;
      },
      { what: 'the enrolment listed by SenderId' },
    );
    expect(listed).toEqual([enrolmentWorkflowId(enrolment.id)]);
  });

  it('keep the sender an enrolment was bound to when the sequence’s default changes later', async () => {
    const acme = await accountWithDomain();
    const ann = await acme.createSender('Ann Rep');
    const bob = await acme.createSender('Bob Rep');
    const sequence = (await acme.api('POST', '/v1/sequences', { name: 'Default Ann', senderId: ann.id, steps: threeSteps.slice(0, 1) }))
      .body as { id: string; senderId: string };
    expect(sequence.senderId).toBe(ann.id);
    const lead = await acme.createLead();
    const bound = await acme.enrolAs(sequence.id, lead.id);
    expect(bound.senderId).toBe(ann.id);
    expect((await acme.api('PATCH', `/v1/sequences/${sequence.id}`, { senderId: bob.id })).body.senderId).toBe(bob.id);
    await acme.waitForStatus(bound.id, 'completed');
    expect(emailsTo(lead.email).map((e) => e.payload.from)).toEqual([`"Ann Rep" <${ann.email}>`]);
    const later = await acme.enrolAs(sequence.id, (await acme.createLead()).id);
    expect(later.senderId).toBe(bob.id);
  });
});

describe('a reply to a rep’s email', () => {
  it('is forwarded to that rep’s confirmed mailbox, and its notification names them', async () => {
    const acme = await accountWithDomain();
    const ann = await acme.createSender('Ann Rep');
    const sequence = await acme.createSequence({ name: 'Spring outreach', steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
    const lead = await acme.createLead({ firstName: 'Rita', lastName: 'Reply' });
    const enrolment = await acme.enrolAs(sequence.id, lead.id, ann.id);
    await eventually(async () => (await acme.messagesOf(enrolment.id)).find((m) => m.status === 'sent'), { what: 'step 1 sent' });
    const row = await acme.enrolmentRow(enrolment.id);
    await world.receiveThroughResend({ from: lead.email, to: `r-${row.replyToken}@reply.example.com`, text: 'Tell me more.' });
    const forward = await eventually(async () => emailsTo(ann.email)[0], { what: 'the forward to Ann' });
    expect(forward.payload).toMatchObject({ reply_to: lead.email });
    expect(emailsTo(acme.account.senderEmail!)).toEqual([]);
    const [notification] = (await acme.api('GET', '/v1/notifications')).body.data;
    expect(notification).toMatchObject({ type: 'reply', title: 'Rita Reply replied (to Ann Rep)', senderId: ann.id });
  });

  it('goes to the account’s default sender once the rep is retired, never to the rep who left', async () => {
    const acme = await accountWithDomain();
    await world.db.update(senders).set({ emailConfirmedAt: new Date() }).where(eq(senders.id, acme.account.defaultSenderId!));
    const leaving = await acme.createSender('Leaving Rep');
    const sequence = await acme.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
    const lead = await acme.createLead({ firstName: 'Rita', lastName: 'Reply' });
    const enrolment = await acme.enrolAs(sequence.id, lead.id, leaving.id);
    await eventually(async () => (await acme.messagesOf(enrolment.id)).find((m) => m.status === 'sent'), { what: 'step 1 sent' });
    expect((await acme.api('POST', `/v1/senders/${leaving.id}/retire`, { liveEnrolments: 'pause' })).status).toBe(200);
    const row = await acme.enrolmentRow(enrolment.id);
    await world.receiveThroughResend({ from: lead.email, to: `r-${row.replyToken}@reply.example.com` });
    await eventually(async () => emailsTo(acme.account.senderEmail!)[0], { what: 'the forward to the default sender' });
    expect(emailsTo(leaving.email)).toEqual([]);
    const [notification] = (await acme.api('GET', '/v1/notifications')).body.data;
    expect(notification).toMatchObject({ title: 'Rita Reply replied (to Sam Seller)', senderId: acme.account.defaultSenderId });
  });

  it('is not forwarded to a rep who has not confirmed their mailbox, and says why', async () => {
    const acme = await accountWithDomain();
    const dan = await acme.createSender('Dan Unconfirmed', {}, { confirmed: false });
    const sequence = await acme.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
    const lead = await acme.createLead();
    const enrolment = await acme.enrolAs(sequence.id, lead.id, dan.id);
    await eventually(async () => (await acme.messagesOf(enrolment.id)).find((m) => m.status === 'sent'), { what: 'step 1 sent' });
    const row = await acme.enrolmentRow(enrolment.id);
    await world.receiveThroughResend({ from: lead.email, to: `r-${row.replyToken}@reply.example.com` });
    const [stored] = await world.inboundOf(enrolment.id);
    const result = await service().temporal.workflow.getHandle(`reply-forward-${stored!.id}`).result();
    expect(result).toEqual({ forwarded: false, reason: 'its sender has not confirmed their address' });
    expect(emailsTo(dan.email)).toEqual([]);
  });
});

describe('a sender’s own daily cap', () => {
  it('holds the rep’s email over it until their next day, says why the enrolment waits, and leaves other reps sending', async () => {
    const acme = await accountWithDomain();
    const capped = await acme.createSender('Cap Rep', { dailyCap: 1, timezone: 'Pacific/Auckland' });
    const free = await acme.createSender('Free Rep');
    const sequence = await acme.createSequence({ steps: [{}] });
    const first = await acme.enrolAs(sequence.id, (await acme.createLead()).id, capped.id);
    await acme.waitForStatus(first.id, 'completed');
    const second = await acme.enrolAs(sequence.id, (await acme.createLead()).id, capped.id);
    const other = await acme.enrolAs(sequence.id, (await acme.createLead()).id, free.id);
    await acme.waitForStatus(other.id, 'completed');
    const waiting = await eventually(
      async () => {
        const res = await acme.api('GET', `/v1/enrolments/${second.id}`);
        return res.body.waitingFor?.cause === 'daily_cap' ? res.body : undefined;
      },
      { what: 'the second email held by the sender’s cap' },
    );
    // Auckland's next midnight, whatever the day here.
    const until = new Date(waiting.waitingFor.until);
    expect(waiting).toMatchObject({ status: 'active', waitingFor: { cause: 'daily_cap', scope: 'sender', senderId: capped.id, cap: 1 } });
    expect(until.getTime()).toBeGreaterThan(Date.now());
    expect(until.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Pacific/Auckland', timeStyle: 'short' }).format(until)).toBe('00:00');
    expect(waiting.nextDueAt).toBe(waiting.waitingFor.until);
    const state = await service().temporal.workflow.getHandle(enrolmentWorkflowId(second.id)).query(stateQuery);
    expect(state.nextStep!.dueAt).toBe(waiting.waitingFor.until);
    expect(await acme.messagesOf(second.id)).toEqual([]);

    // A raised cap releases it now: it plans again, and goes.
    expect((await acme.api('PATCH', `/v1/senders/${capped.id}`, { dailyCap: 2 })).status).toBe(200);
    await acme.waitForStatus(second.id, 'completed');
    expect((await acme.messagesOf(second.id)).map((m) => m.senderId)).toEqual([capped.id]);
    expect((await acme.api('GET', `/v1/enrolments/${second.id}`)).body.waitingFor).toBeNull();
  });
});

describe('round-robin bulk enrolment', () => {
  it('gives the listed senders in turn, keeps a lead with the listed sender it had, and answers a retry the same', async () => {
    const acme = await accountWithDomain();
    const reps = [await acme.createSender('Rep A'), await acme.createSender('Rep B'), await acme.createSender('Rep C')];
    const [a, b, c] = reps.map((r) => r.id) as [string, string, string];
    const earlier = await acme.createSequence({ name: 'Earlier', steps: [{}] });
    const leads = [];
    for (let i = 0; i < 7; i++) leads.push(await acme.createLead());
    // Lead 3 was written to by Rep C before.
    const before = await acme.enrolAs(earlier.id, leads[3]!.id, c);
    await acme.waitForStatus(before.id, 'completed');

    const sequence = await acme.createSequence({ steps: [{ delay: { amount: 5, unit: 'days' } }] });
    const request = { leadIds: leads.map((l) => l.id), senderIds: [a, b, c] };
    const key = { 'idempotency-key': `rr-${randomUUID()}` };
    const res = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, request, key);
    expect([res.status, res.body.enrolled]).toEqual([200, 7]);
    const senderOf = async (enrolmentId: string) => (await acme.enrolmentRow(enrolmentId)).senderId;
    const bound = await Promise.all(res.body.results.map((r: { enrolmentId: string }) => senderOf(r.enrolmentId)));
    expect(bound).toEqual([a, b, c, c, a, b, c]);
    const ofC = await acme.api('GET', `/v1/sequences/${sequence.id}/enrolments?senderId=${c}`);
    expect(ofC.body.data.map((e: { senderId: string }) => e.senderId)).toEqual([c, c, c]);

    const stray = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, {
      ...request,
      leadSenders: { [randomUUID()]: a },
    });
    expect([stray.status, stray.body.error.code]).toEqual([422, 'validation_error']);
    const again = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, request, key);
    expect(again.body).toEqual(res.body);
    const otherSenders = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { ...request, senderIds: [b] }, key);
    expect([otherSenders.status, otherSenders.body.error.code]).toEqual([422, 'idempotency_key_reused']);
  });

  it('lets a lead be named with its own sender over the round-robin', async () => {
    const acme = await accountWithDomain();
    const [a, b] = [(await acme.createSender('Rep A')).id, (await acme.createSender('Rep B')).id];
    const sequence = await acme.createSequence({ steps: [{ delay: { amount: 5, unit: 'days' } }] });
    const [first, second] = [await acme.createLead(), await acme.createLead()];
    const res = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, {
      leadIds: [first.id, second.id],
      senderIds: [a],
      leadSenders: { [second.id]: b },
    });
    const bound = await Promise.all(
      res.body.results.map(async (r: { enrolmentId: string }) => (await acme.enrolmentRow(r.enrolmentId)).senderId),
    );
    expect(bound).toEqual([a, b]);
  });
});

describe('naming a sender', () => {
  it('refuses one of another account, or a retired one, and changes nothing', async () => {
    const acme = await accountWithDomain();
    const other = await accountWithDomain();
    const theirs = await other.createSender('Not Yours');
    const sequence = await acme.createSequence({ steps: [{}] });
    const lead = await acme.createLead();
    const foreign = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id, senderId: theirs.id });
    expect([foreign.status, foreign.body.error.code, foreign.body.error.field]).toEqual([422, 'sender_not_found', 'senderId']);
    const bulk = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds: [lead.id], senderIds: [theirs.id] });
    expect([bulk.status, bulk.body.error.code]).toEqual([422, 'sender_not_found']);
    const asDefault = await acme.api('PATCH', '/v1/account', { defaultSenderId: theirs.id });
    expect([asDefault.status, asDefault.body.error.code]).toEqual([422, 'sender_not_found']);
    expect((await acme.api('GET', `/v1/senders/${theirs.id}`)).status).toBe(404);
    const gone = await acme.createSender('Gone Rep');
    expect((await acme.api('POST', `/v1/senders/${gone.id}/retire`, {})).status).toBe(200);
    const retired = await acme.api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id, senderId: gone.id });
    expect([retired.status, retired.body.error.code]).toEqual([409, 'sender_retired']);
    expect((await acme.api('GET', `/v1/leads/${lead.id}`)).status).toBe(200);
    expect((await acme.api('GET', `/v1/sequences/${sequence.id}/enrolments`)).body.data).toEqual([]);
  });

  it('refuses a second live sender with the same address, in any case', async () => {
    const acme = await accountWithDomain();
    const ann = await acme.createSender('Ann Rep');
    const twin = await acme.api('POST', '/v1/senders', { name: 'Ann Twin', email: ann.email.toUpperCase() });
    expect([twin.status, twin.body.error.code, twin.body.error.field]).toEqual([409, 'sender_email_taken', 'email']);
  });
});

describe('a sender’s mailbox', () => {
  it('is confirmed by the signed link sent to it, and must be confirmed again when it changes', async () => {
    const acme = await accountWithDomain();
    const ann = await acme.createSender('Ann Rep', {}, { confirmed: false });
    const asked = await acme.api('POST', `/v1/senders/${ann.id}/confirmation`);
    expect([asked.status, asked.body.to]).toEqual([202, ann.email]);
    const link = /https:\/\/sequences\.test(\/confirm-sender\/[^\s]+)/.exec(String(emailsTo(ann.email)[0]!.payload.text))![1]!;
    expect((await fetch(`${service().baseUrl}${link}`, { method: 'POST' })).status).toBe(200);
    expect((await acme.api('GET', `/v1/senders/${ann.id}`)).body.emailConfirmed).toBe(true);
    const moved = await acme.api('PATCH', `/v1/senders/${ann.id}`, { email: `ann-new-${randomUUID().slice(0, 8)}@acme.test` });
    expect(moved.body.emailConfirmed).toBe(false);
    // The old link was signed over the old address.
    expect((await fetch(`${service().baseUrl}${link}`, { method: 'POST' })).status).toBe(400);
  });
});

describe('retiring a sender', () => {
  async function repWithLiveEnrolments(count: number) {
    const acme = await accountWithDomain();
    const rep = await acme.createSender('Leaving Rep');
    const sequence = await acme.createSequence({ steps: [{}, { delay: minutes(1) }] });
    const enrolled = [];
    for (let i = 0; i < count; i++) enrolled.push(await acme.enrolAs(sequence.id, (await acme.createLead()).id, rep.id));
    for (const e of enrolled) {
      await eventually(async () => (await acme.messagesOf(e.id)).find((m) => m.status === 'sent'), { what: 'step 1 sent' });
      // Asleep until step 2, so that what pauses it is the retirement's signal, not a plan that
      // finds the sender retired (which names no person's reason).
      await eventually(
        async () => (await acme.api('GET', `/v1/enrolments/${e.id}`)).body.nextStepId === sequence.steps[1]!.id || undefined,
        { what: 'step 2 planned' },
      );
    }
    return { ...acme, rep, sequence, enrolled };
  }

  it('asks what to do with their live enrolments, and refuses the account’s default without a sender to move to', async () => {
    const acme = await repWithLiveEnrolments(1);
    const asked = await acme.api('POST', `/v1/senders/${acme.rep.id}/retire`, {});
    expect([asked.status, asked.body.error.code]).toEqual([409, 'sender_has_live_enrolments']);
    const theDefault = await acme.api('POST', `/v1/senders/${acme.account.defaultSenderId}/retire`, {});
    expect([theDefault.status, theDefault.body.error.code]).toEqual([409, 'sender_is_account_default']);
    expect((await acme.api('GET', `/v1/senders/${acme.rep.id}`)).body.status).toBe('active');
  });

  it('with pause: pauses their live enrolments with the reason, sends nothing more, and a resume is refused until they move', async () => {
    const acme = await repWithLiveEnrolments(2);
    const res = await acme.api('POST', `/v1/senders/${acme.rep.id}/retire`, { liveEnrolments: 'pause' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ paused: 2, moved: 0, sender: { status: 'retired' } });
    for (const e of acme.enrolled) {
      await acme.waitForStatus(e.id, 'paused');
      const paused = (await acme.timeline(e.id)).find((t) => t.type === 'status_changed' && t.toStatus === 'paused');
      expect(paused!.detail).toMatchObject({ reason: 'the sender Leaving Rep was retired' });
    }
    const resume = await acme.api('POST', `/v1/enrolments/${acme.enrolled[0]!.id}/resume`);
    expect([resume.status, resume.body.error.code]).toEqual([409, 'sender_retired']);
    expect((await acme.messagesOf(acme.enrolled[0]!.id)).length).toBe(1);
    // Their emails keep naming them.
    const [sent] = await acme.messagesOf(acme.enrolled[1]!.id);
    expect(sent!.senderId).toBe(acme.rep.id);
  });

  it('with move: their enrolments and sequences go to the sender named, whose email the next step is', async () => {
    const acme = await repWithLiveEnrolments(1);
    const heir = await acme.createSender('Heir Rep');
    const withDefault = await acme.api('PATCH', `/v1/sequences/${acme.sequence.id}`, { senderId: acme.rep.id });
    expect(withDefault.status).toBe(200);
    const res = await acme.api('POST', `/v1/senders/${acme.rep.id}/retire`, { liveEnrolments: 'move', moveTo: heir.id });
    expect(res.body).toMatchObject({ paused: 0, moved: 1, sequencesMoved: 1 });
    const [enrolment] = acme.enrolled;
    await acme.waitForStatus(enrolment!.id, 'completed', 150_000);
    const sent = await acme.messagesOf(enrolment!.id);
    expect(sent.map((m) => m.senderId)).toEqual([acme.rep.id, heir.id]);
    expect(sent[1]!.fromEmail).toBe(`"Heir Rep" <${heir.email}>`);
    const changed = (await acme.timeline(enrolment!.id)).find((t) => t.type === 'sender_changed');
    expect(changed!.detail).toMatchObject({ fromSenderId: acme.rep.id, toSenderId: heir.id });
    expect((await acme.api('GET', `/v1/sequences/${acme.sequence.id}`)).body.senderId).toBe(heir.id);
    const [row] = await world.db
      .select()
      .from(senders)
      .where(and(eq(senders.id, acme.rep.id)));
    expect(row!.retiredAt).not.toBeNull();
  }, 180_000);
});
