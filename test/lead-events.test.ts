import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timelineEventSchema } from '../api/schemas/enrolments.js';
import { leadEventSchema } from '../api/schemas/lead-events.js';
import { enrolmentEvents, enrolments, leadEvents, leads } from '../db/schema.js';
import { enrolmentWorkflowId, stateQuery } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startService, type TestService } from './helpers/service.js';

// Issue 17, "The portal can end an enrolment for a reason of its own": POST /v1/leads/{id}/events
// with meeting_booked, deal_won, deal_lost, do_not_contact or a name of the portal's own. Each live
// enrolment of the lead does what its sequence's leadEventRules say (default: stop on a booked
// meeting, a won or a lost deal); do_not_contact suppresses the lead account-wide. An event key is
// applied once, however many requests carry it and however they race.

let service: TestService;
beforeAll(async () => {
  service = await startService();
});
afterAll(() => service.stop());

const db = () => service.database.db;
/** One step three days out: the enrolment stays active, asleep, until something ends it. */
const WAITING = { steps: [{ delay: { amount: 3, unit: 'days' } }] };

type Fixture = Awaited<ReturnType<typeof asNewAccount>>;

/** A new account with a lead enrolled (and live) in one sequence per rules given (null: the default rules). */
async function leadInSequences(rulesPerSequence: ({ stop: string[]; pause: string[] } | null)[], accountValues = {}) {
  const fixture = await asNewAccount(service, { allowParallelEnrolment: true, ...accountValues });
  const lead = await fixture.createLead();
  const enrolled: { sequenceId: string; stepId: string; enrolmentId: string }[] = [];
  for (const rules of rulesPerSequence) {
    const sequence = await fixture.createSequence(WAITING);
    if (rules) {
      const patched = await fixture.api('PATCH', `/v1/sequences/${sequence.id}`, { leadEventRules: rules });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      expect(patched.body.leadEventRules).toEqual(rules);
    }
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    enrolled.push({ sequenceId: sequence.id, stepId: sequence.steps[0]!.id, enrolmentId: enrolment.id });
  }
  return { ...fixture, lead, enrolled };
}

const postEvent = (fixture: Pick<Fixture, 'api'>, leadId: string, body: unknown) => fixture.api('POST', `/v1/leads/${leadId}/events`, body);

/** The enrolment's timeline as the API answers it, each entry held to its documented schema. */
async function timeline(fixture: Pick<Fixture, 'api'>, enrolmentId: string) {
  const res = await fixture.api('GET', `/v1/enrolments/${enrolmentId}`);
  expect(res.status).toBe(200);
  for (const entry of res.body.timeline) {
    const parsed = timelineEventSchema.safeParse(entry);
    expect(parsed.error?.issues ?? [], JSON.stringify(entry)).toEqual([]);
  }
  return res.body.timeline as Record<string, any>[];
}

/** The answer held to its documented schema (strict: no field it does not document). */
function documented(body: unknown) {
  const parsed = leadEventSchema.strict().safeParse(body);
  expect(parsed.error?.issues ?? [], JSON.stringify(body)).toEqual([]);
  return parsed.data!;
}

const workflowStatus = async (enrolmentId: string) =>
  (await service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolmentId)).query(stateQuery)).status;

const eventRows = (leadId: string) => db().select().from(leadEvents).where(eq(leadEvents.leadId, leadId));
const leadEventEntries = (enrolmentId: string) =>
  db()
    .select()
    .from(enrolmentEvents)
    .where(and(eq(enrolmentEvents.enrolmentId, enrolmentId), eq(enrolmentEvents.type, 'lead_event')));

describe('a portal event, by a sequence’s default rules', () => {
  it('meeting_booked stops the enrolment, with the reason on its timeline', async () => {
    const fixture = await leadInSequences([null]);
    const [{ enrolmentId, sequenceId }] = fixture.enrolled as [(typeof fixture.enrolled)[number]];
    const res = await postEvent(fixture, fixture.lead.id, {
      name: 'meeting_booked',
      eventKey: 'crm-evt-1001',
      detail: { meetingId: 'M-77', at: '2026-12-10T15:00:00Z', attendees: ['ada@example.com'] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const answer = documented(res.body);
    expect(answer).toMatchObject({ leadId: fixture.lead.id, name: 'meeting_booked', eventKey: 'crm-evt-1001' });
    expect(answer.duplicate).toBeUndefined();
    expect(answer.effects).toEqual([{ enrolmentId, sequenceId, action: 'stop' }]);

    const stopped = await fixture.waitForStatus(enrolmentId, 'stopped');
    expect(stopped.endedReason).toBe('the portal reported meeting_booked');
    const entries = await timeline(fixture, enrolmentId);
    const event = entries.findIndex((e) => e.type === 'lead_event');
    const change = entries.findIndex((e) => e.type === 'status_changed' && e.to === 'stopped');
    expect(entries[event]).toMatchObject({ leadEventId: answer.id, name: 'meeting_booked', eventKey: 'crm-evt-1001', action: 'stop' });
    expect(entries[change]).toMatchObject({ from: 'active', reason: 'the portal reported meeting_booked' });
    expect(event).toBeLessThan(change);
    // Stored with what the portal said about it.
    const [row] = await eventRows(fixture.lead.id);
    expect(row).toMatchObject({ id: answer.id, name: 'meeting_booked', eventKey: 'crm-evt-1001', accountId: fixture.account.id });
    expect(row!.detail).toEqual({ meetingId: 'M-77', at: '2026-12-10T15:00:00Z', attendees: ['ada@example.com'] });
  });

  it.each(['deal_won', 'deal_lost'])('%s stops it too', async (name) => {
    const fixture = await leadInSequences([null]);
    const { enrolmentId } = fixture.enrolled[0]!;
    const res = await postEvent(fixture, fixture.lead.id, { name });
    expect(res.status).toBe(201);
    expect(res.body.effects).toMatchObject([{ enrolmentId, action: 'stop' }]);
    expect((await fixture.waitForStatus(enrolmentId, 'stopped')).endedReason).toBe(`the portal reported ${name}`);
  });

  it('a name in neither list is recorded and changes nothing', async () => {
    const fixture = await leadInSequences([null]);
    const { enrolmentId, sequenceId } = fixture.enrolled[0]!;
    const res = await postEvent(fixture, fixture.lead.id, { name: 'webinar_attended' });
    expect(res.status).toBe(201);
    expect(res.body.effects).toEqual([{ enrolmentId, sequenceId, action: 'none' }]);
    // No signal was sent: the workflow and the database both still have it active.
    expect(await workflowStatus(enrolmentId)).toBe('active');
    expect((await fixture.enrolmentRow(enrolmentId)).status).toBe('active');
    const entries = await timeline(fixture, enrolmentId);
    expect(entries.filter((e) => e.type === 'status_changed')).toEqual([]);
    expect(entries.find((e) => e.type === 'lead_event')).toMatchObject({ name: 'webinar_attended', action: 'none' });
    expect(await eventRows(fixture.lead.id)).toHaveLength(1);
  });

  it('a lead with no live enrolment: the event is recorded, with no effects', async () => {
    const fixture = await asNewAccount(service);
    const lead = await fixture.createLead();
    const res = await postEvent(fixture, lead.id, { name: 'meeting_booked' });
    expect(res.status).toBe(201);
    expect(documented(res.body).effects).toEqual([]);
    expect(await eventRows(lead.id)).toHaveLength(1);
  });

  it('without an eventKey, the service makes one, and every request is an event of its own', async () => {
    const fixture = await asNewAccount(service);
    const lead = await fixture.createLead();
    const first = await postEvent(fixture, lead.id, { name: 'webinar_attended' });
    const second = await postEvent(fixture, lead.id, { name: 'webinar_attended' });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(first.body.eventKey).toMatch(/^[\x21-\x7e]{1,200}$/);
    expect(first.body.eventKey).not.toBe(second.body.eventKey);
    expect(first.body.id).not.toBe(second.body.id);
    expect(await eventRows(lead.id)).toHaveLength(2);
  });
});

describe('an enrolment whose workflow has not started yet', () => {
  it('meeting_booked stops it before it plans or sends anything: the stop is in its first workflow task', async () => {
    const fixture = await asNewAccount(service);
    // Step 1 is due at once: a workflow that plans before it hears of the stop sends it.
    const sequence = await fixture.createSequence({ steps: [{ delay: { amount: 0, unit: 'minutes' } }] });
    const lead = await fixture.createLead();
    // Committed, its workflow start cut short (the API died, or the start is on its way).
    const [row] = await db()
      .insert(enrolments)
      .values({ accountId: fixture.account.id, sequenceId: sequence.id, leadId: lead.id, replyToken: randomUUID().replaceAll('-', '') })
      .returning();
    const enrolmentId = row!.id;

    const res = await postEvent(fixture, lead.id, { name: 'meeting_booked' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.effects).toEqual([{ enrolmentId, sequenceId: sequence.id, action: 'stop' }]);
    const stopped = await fixture.waitForStatus(enrolmentId, 'stopped');
    expect(stopped.endedReason).toBe('the portal reported meeting_booked');
    expect(stopped.workflowStartedAt).not.toBeNull();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await fixture.sentMessages(enrolmentId)).toEqual([]);
    // Signal-with-start: the stop is in the history before the workflow's first task runs.
    const history = await service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolmentId)).fetchHistory();
    const events = history.events ?? [];
    const stop = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'stop');
    const firstTask = events.findIndex((e) => e.workflowTaskStartedEventAttributes);
    expect(stop).toBeGreaterThan(-1);
    expect(stop).toBeLessThan(firstTask);
  });
});

describe('a sequence’s own rules', () => {
  it('a custom name in pause pauses the enrolment, with the reason; a person’s resume lifts it', async () => {
    const fixture = await leadInSequences([{ stop: ['deal_won'], pause: ['trial_started'] }]);
    const { enrolmentId, sequenceId } = fixture.enrolled[0]!;
    const res = await postEvent(fixture, fixture.lead.id, { name: 'trial_started', eventKey: 'trial-1' });
    expect(res.status).toBe(201);
    expect(res.body.effects).toEqual([{ enrolmentId, sequenceId, action: 'pause' }]);
    await fixture.waitForStatus(enrolmentId, 'paused');
    const entries = await timeline(fixture, enrolmentId);
    expect(entries.find((e) => e.type === 'lead_event')).toMatchObject({ name: 'trial_started', action: 'pause' });
    expect(entries.find((e) => e.type === 'status_changed')).toMatchObject({
      from: 'active',
      to: 'paused',
      reason: 'the portal reported trial_started',
    });
    expect((await fixture.api('POST', `/v1/enrolments/${enrolmentId}/resume`)).status).toBe(200);
    expect((await fixture.enrolmentRow(enrolmentId)).status).toBe('active');
  });

  it('a lead in two sequences with different rules: one stops, the other pauses, a third does nothing', async () => {
    const fixture = await leadInSequences([null, { stop: [], pause: ['meeting_booked'] }, { stop: ['deal_won'], pause: [] }]);
    const [stops, pauses, ignores] = fixture.enrolled as [
      (typeof fixture.enrolled)[number],
      (typeof fixture.enrolled)[number],
      (typeof fixture.enrolled)[number],
    ];
    const res = await postEvent(fixture, fixture.lead.id, { name: 'meeting_booked' });
    expect(res.status).toBe(201);
    const byEnrolment = Object.fromEntries(documented(res.body).effects.map((e) => [e.enrolmentId, e]));
    expect(byEnrolment).toEqual({
      [stops.enrolmentId]: { enrolmentId: stops.enrolmentId, sequenceId: stops.sequenceId, action: 'stop' },
      [pauses.enrolmentId]: { enrolmentId: pauses.enrolmentId, sequenceId: pauses.sequenceId, action: 'pause' },
      [ignores.enrolmentId]: { enrolmentId: ignores.enrolmentId, sequenceId: ignores.sequenceId, action: 'none' },
    });
    expect((await fixture.waitForStatus(stops.enrolmentId, 'stopped')).endedReason).toBe('the portal reported meeting_booked');
    await fixture.waitForStatus(pauses.enrolmentId, 'paused');
    expect(await workflowStatus(ignores.enrolmentId)).toBe('active');
    expect((await fixture.enrolmentRow(ignores.enrolmentId)).status).toBe('active');
  });
});

describe('do_not_contact', () => {
  it('suppresses the lead account-wide: every live enrolment ends whatever the rules, and nothing can reach the lead again', async () => {
    const ownAddress = `owner-${randomUUID()}@vendor.test`;
    const fixture = await leadInSequences([null, { stop: [], pause: [] }], {
      senderEmail: ownAddress,
      senderEmailConfirmedAt: new Date(),
    });
    const [first, second] = fixture.enrolled as [(typeof fixture.enrolled)[number], (typeof fixture.enrolled)[number]];
    // One of them paused by a person: a paused enrolment is live, and ends too.
    expect((await fixture.api('POST', `/v1/enrolments/${second.enrolmentId}/pause`)).status).toBe(200);

    const res = await postEvent(fixture, fixture.lead.id, { name: 'do_not_contact', eventKey: 'dnc-1', detail: { by: 'legal' } });
    expect(res.status).toBe(201);
    expect(
      documented(res.body)
        .effects.map((e) => [e.enrolmentId, e.action])
        .sort(),
    ).toEqual(
      [
        [first.enrolmentId, 'stop'],
        [second.enrolmentId, 'stop'],
      ].sort(),
    );
    const lead = await fixture.api('GET', `/v1/leads/${fixture.lead.id}`);
    expect(lead.body.doNotContactAt).toEqual(expect.any(String));
    for (const { enrolmentId } of fixture.enrolled) {
      expect((await fixture.waitForStatus(enrolmentId, 'stopped')).endedReason).toBe('the portal marked the lead do not contact');
    }
    const entries = await timeline(fixture, second.enrolmentId);
    expect(entries.find((e) => e.type === 'lead_event')).toMatchObject({ name: 'do_not_contact', action: 'stop' });
    expect(entries.at(-1)).toMatchObject({ type: 'status_changed', from: 'paused', to: 'stopped' });

    // Enrolling again is refused, one by one and in bulk, with its own reason.
    const again = await fixture.api('POST', `/v1/sequences/${first.sequenceId}/enrolments`, { leadId: fixture.lead.id });
    expect([again.status, again.body.error.code, again.body.error.field]).toEqual([422, 'do_not_contact', 'leadId']);
    expect(again.body.error.message).toBe('the portal marked the lead do not contact');
    const bulk = await fixture.api('POST', `/v1/sequences/${second.sequenceId}/enrolments/bulk`, { leadIds: [fixture.lead.id] });
    expect(bulk.body).toMatchObject({ enrolled: 0, results: [{ status: 'skipped', reason: 'do_not_contact' }] });
    // No one-off email.
    const oneOff = await fixture.api('POST', `/v1/leads/${fixture.lead.id}/emails`, { subject: 'Hi', body: 'Quick question.' });
    expect([oneOff.status, oneOff.body.error?.code]).toEqual([422, 'do_not_contact']);
    // No test copy to the lead's address (the account's own address here, which the lead's is made).
    await db().update(leads).set({ email: ownAddress }).where(eq(leads.id, fixture.lead.id));
    const test = await fixture.api('POST', `/v1/sequences/${first.sequenceId}/steps/${first.stepId}/test`, {});
    expect([test.status, test.body.error?.code, test.body.error?.field]).toEqual([422, 'recipient_suppressed', 'to']);

    // A later do_not_contact (another event) keeps the first mark.
    const [before] = await db().select().from(leads).where(eq(leads.id, fixture.lead.id));
    const later = await postEvent(fixture, fixture.lead.id, { name: 'do_not_contact', eventKey: 'dnc-2' });
    expect([later.status, later.body.effects]).toEqual([201, []]);
    const [after] = await db().select().from(leads).where(eq(leads.id, fixture.lead.id));
    expect(after!.doNotContactAt).toEqual(before!.doNotContactAt);
  });

  it('touches no other lead of the account', async () => {
    const fixture = await leadInSequences([null]);
    const other = await fixture.createLead();
    const sequence = await fixture.createSequence(WAITING);
    const otherEnrolment = await fixture.enrolLead(sequence.id, other.id);
    expect((await postEvent(fixture, fixture.lead.id, { name: 'do_not_contact' })).status).toBe(201);
    await fixture.waitForStatus(fixture.enrolled[0]!.enrolmentId, 'stopped');
    expect((await fixture.api('GET', `/v1/leads/${other.id}`)).body.doNotContactAt).toBeNull();
    expect(await workflowStatus(otherEnrolment.id)).toBe('active');
  });
});

describe('the same eventKey again is the same event', () => {
  it('a repeat answers the first result (200, duplicate) and applies nothing twice', async () => {
    const fixture = await leadInSequences([{ stop: [], pause: ['meeting_booked'] }]);
    const { enrolmentId } = fixture.enrolled[0]!;
    const body = { name: 'meeting_booked', eventKey: 'evt-42', detail: { n: 1 } };
    const first = await postEvent(fixture, fixture.lead.id, body);
    expect(first.status).toBe(201);
    await fixture.waitForStatus(enrolmentId, 'paused');
    // A person resumes; the portal's retry must not pause it again.
    expect((await fixture.api('POST', `/v1/enrolments/${enrolmentId}/resume`)).status).toBe(200);

    const repeat = await postEvent(fixture, fixture.lead.id, { ...body, detail: { n: 2 } });
    expect(repeat.status).toBe(200);
    expect(documented(repeat.body)).toEqual({ ...first.body, duplicate: true });
    expect(await eventRows(fixture.lead.id)).toHaveLength(1);
    expect((await eventRows(fixture.lead.id))[0]!.detail).toEqual({ n: 1 });
    expect(await leadEventEntries(enrolmentId)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(await workflowStatus(enrolmentId)).toBe('active');
    expect((await fixture.enrolmentRow(enrolmentId)).status).toBe('active');
    expect((await timeline(fixture, enrolmentId)).filter((e) => e.type === 'status_changed').map((e) => e.to)).toEqual([
      'paused',
      'active',
    ]);
  });

  it('concurrent requests with one key: one is the event, every other answers it as a duplicate', async () => {
    const fixture = await leadInSequences([null, { stop: [], pause: ['deal_won'] }]);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => postEvent(fixture, fixture.lead.id, { name: 'deal_won', eventKey: 'race-1' })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    const created = answers.find((a) => a.status === 201)!.body;
    for (const a of answers.filter((a) => a.status === 200)) expect(a.body).toEqual({ ...created, duplicate: true });
    expect(created.effects).toHaveLength(2);
    expect(await eventRows(fixture.lead.id)).toHaveLength(1);
    const [stops, pauses] = fixture.enrolled as [(typeof fixture.enrolled)[number], (typeof fixture.enrolled)[number]];
    await fixture.waitForStatus(stops.enrolmentId, 'stopped');
    await fixture.waitForStatus(pauses.enrolmentId, 'paused');
    for (const { enrolmentId } of fixture.enrolled) {
      expect(await leadEventEntries(enrolmentId)).toHaveLength(1);
      expect((await timeline(fixture, enrolmentId)).filter((e) => e.type === 'status_changed')).toHaveLength(1);
    }
  });

  it('a repeat delivers what the first request recorded but could not signal (it failed after its commit)', async () => {
    const fixture = await leadInSequences([null]);
    const { enrolmentId } = fixture.enrolled[0]!;
    // What the first request committed before it died: the event and its timeline entry, no signal.
    const [event] = await db()
      .insert(leadEvents)
      .values({ accountId: fixture.account.id, leadId: fixture.lead.id, name: 'meeting_booked', eventKey: 'lost-signal' })
      .returning();
    await db()
      .insert(enrolmentEvents)
      .values({
        accountId: fixture.account.id,
        enrolmentId,
        type: 'lead_event',
        detail: { leadEventId: event!.id, name: 'meeting_booked', eventKey: 'lost-signal', action: 'stop' },
      });
    expect(await workflowStatus(enrolmentId)).toBe('active');
    const retry = await postEvent(fixture, fixture.lead.id, { name: 'meeting_booked', eventKey: 'lost-signal' });
    expect([retry.status, retry.body.id, retry.body.duplicate]).toEqual([200, event!.id, true]);
    expect((await fixture.waitForStatus(enrolmentId, 'stopped')).endedReason).toBe('the portal reported meeting_booked');
    expect(await leadEventEntries(enrolmentId)).toHaveLength(1);
  });

  it('the key of another event (another name or lead) is refused, changing nothing', async () => {
    const fixture = await leadInSequences([null]);
    const other = await fixture.createLead();
    expect((await postEvent(fixture, fixture.lead.id, { name: 'webinar_attended', eventKey: 'k-1' })).status).toBe(201);
    for (const [leadId, name] of [
      [fixture.lead.id, 'meeting_booked'],
      [other.id, 'webinar_attended'],
    ] as const) {
      const res = await postEvent(fixture, leadId, { name, eventKey: 'k-1' });
      expect([res.status, res.body.error.code, res.body.error.field]).toEqual([422, 'event_key_reused', 'eventKey']);
    }
    expect(await eventRows(other.id)).toHaveLength(0);
    expect(await workflowStatus(fixture.enrolled[0]!.enrolmentId)).toBe('active');
  });

  it('keys are the account’s own: another account may use the same key', async () => {
    const a = await leadInSequences([null]);
    const b = await leadInSequences([null]);
    expect((await postEvent(a, a.lead.id, { name: 'meeting_booked', eventKey: 'shared-key' })).status).toBe(201);
    const res = await postEvent(b, b.lead.id, { name: 'meeting_booked', eventKey: 'shared-key' });
    expect([res.status, res.body.duplicate]).toEqual([201, undefined]);
    await b.waitForStatus(b.enrolled[0]!.enrolmentId, 'stopped');
  });
});

describe('refused requests change nothing', () => {
  it('bad name, bad key, detail too large or too deep, no body: 400 naming the field', async () => {
    const fixture = await leadInSequences([null]);
    const { enrolmentId } = fixture.enrolled[0]!;
    const cases: [body: unknown, field: string | undefined][] = [
      [{}, 'name'],
      [{ name: 'Meeting Booked' }, 'name'],
      [{ name: 42 }, 'name'],
      [{ name: 'x'.repeat(65) }, 'name'],
      [{ name: 'meeting_booked', eventKey: 'with space' }, 'eventKey'],
      [{ name: 'meeting_booked', eventKey: '' }, 'eventKey'],
      [{ name: 'meeting_booked', eventKey: 'k'.repeat(201) }, 'eventKey'],
      [{ name: 'meeting_booked', eventKey: 7 }, 'eventKey'],
      [{ name: 'meeting_booked', detail: { note: 'x'.repeat(201) } }, 'detail.note'],
      [{ name: 'meeting_booked', detail: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) }, 'detail'],
      [{ name: 'meeting_booked', detail: { a: { b: { c: 1 } } } }, 'detail.a.b'],
      [{ name: 'meeting_booked', detail: 'a string' }, 'detail'],
      [{ name: 'meeting_booked', detail: [1, 2] }, 'detail'],
    ];
    for (const [body, field] of cases) {
      const res = await postEvent(fixture, fixture.lead.id, body);
      expect([res.status, res.body.error?.code, res.body.error?.field], JSON.stringify(body).slice(0, 80)).toEqual([
        400,
        'validation_error',
        field,
      ]);
    }
    const noBody = await fixture.api('POST', `/v1/leads/${fixture.lead.id}/events`);
    expect(noBody.status).toBe(400);
    const badId = await postEvent(fixture, 'not-a-uuid', { name: 'meeting_booked' });
    expect([badId.status, badId.body.error.field]).toEqual([400, 'id']);

    expect(await eventRows(fixture.lead.id)).toEqual([]);
    expect(await leadEventEntries(enrolmentId)).toEqual([]);
    expect(await workflowStatus(enrolmentId)).toBe('active');
    expect((await fixture.api('GET', `/v1/leads/${fixture.lead.id}`)).body.doNotContactAt).toBeNull();
  });

  it('an unknown lead, or another account’s: 404, nothing recorded or changed', async () => {
    const owner = await leadInSequences([null]);
    const stranger = await asNewAccount(service);
    for (const name of ['meeting_booked', 'do_not_contact']) {
      const res = await postEvent(stranger, owner.lead.id, { name, eventKey: `x-${name}` });
      expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
    }
    const unknown = await postEvent(owner, randomUUID(), { name: 'meeting_booked' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not_found']);
    expect(await eventRows(owner.lead.id)).toEqual([]);
    expect(await workflowStatus(owner.enrolled[0]!.enrolmentId)).toBe('active');
    expect((await owner.api('GET', `/v1/leads/${owner.lead.id}`)).body.doNotContactAt).toBeNull();
    // The stranger's key was never claimed: the owner may use it.
    expect((await postEvent(owner, owner.lead.id, { name: 'webinar_attended', eventKey: 'x-meeting_booked' })).status).toBe(201);
  });
});
