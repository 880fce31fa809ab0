import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { simpleParser, type AddressObject } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { timelineEventSchema } from '../api/schemas/enrolments.js';
import { inboundCorrections, inboundMessages, leadUnsubscriptions } from '../db/schema.js';
import { inboundEmailSchema } from '../api/schemas/inbound.js';
import { unsubscribeToken } from '../domain/unsubscribe-token.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startPortalReceiver, type PortalEvent } from './helpers/portal.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { deliverWebhook, newWebhookSecret } from './helpers/webhooks.js';

// Issue 17, at the service: every inbound email is classified on arrival (reply, out_of_office,
// auto_reply, unsubscribe_request, bounce_notice, from_other_address), and what it was read as,
// why, and what was done is stored, on the timeline, notified (a machine's auto-reply aside) and
// told to the portal; the out-of-office wait and the unsubscribe are applied; a user may correct
// the class. The emails are the corpus of test/fixtures/inbound-samples/, addressed to the
// enrolment's reply address and with their dates moved to come after today.

let started: ServiceWithSink | undefined;
let service: TestService;
let sink: ResendSink;
const webhookSecret = newWebhookSecret();
const inboundSecret = 'inbound-secret-for-classification-tests';

/** The portal: every event it received, of every account of this file. */
let portal: Awaited<ReturnType<typeof startPortalReceiver>> | undefined;
const portalEvents: PortalEvent[] = [];
let portalUrl: string;

beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink({
    env: { RESEND_WEBHOOK_SECRET: webhookSecret, INBOUND_MIME_SECRET: inboundSecret },
  }));
  portal = await startPortalReceiver(portalEvents);
  portalUrl = portal.url;
});
afterAll(async () => {
  await portal?.close();
  await started?.stop();
});

// ---------------------------------------------------------------------------------------------
// Samples, and the dates in them.

const SAMPLE_REPLY_ADDRESS = 'r-Qm7xK2pL9vTa@inbound.vendor.test';

interface Sample {
  name: string;
  lead: string;
  timeZone: string;
  raw: string;
}

/** A corpus file: its header (the enrolled lead and their zone) and the raw message after `---`. */
function sample(name: string): Sample {
  const file = readFileSync(new URL(`./fixtures/inbound-samples/${name}`, import.meta.url), 'utf8');
  const cut = file.indexOf('\n---\n');
  const meta = new Map(
    file
      .slice(0, cut)
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf(':')).trim(), line.slice(line.indexOf(':') + 1).trim()] as const),
  );
  return { name, lead: meta.get('lead')!, timeZone: meta.get('time-zone')!, raw: file.slice(cut + 5) };
}

/** Today in `zone`, plus `days`, at the start of that day. */
const dayFromToday = (zone: string, days: number) => DateTime.now().setZone(zone).startOf('day').plus({ days });

/** The first Monday-to-Friday day after `day`, at its start: when a wait for a lead back on `day` ends. */
function nextBusinessDayAfter(day: DateTime): DateTime {
  let next = day.plus({ days: 1 }).startOf('day');
  while (next.weekday > 5) next = next.plus({ days: 1 });
  return next;
}

const iso = (at: DateTime) => at.toUTC().toISO();

// ---------------------------------------------------------------------------------------------
// A lead who got step 1, and an email arriving for them.

const days = (amount: number) => ({ amount, unit: 'days' });

/** The lead of `of` (their address and zone), enrolled in a two-step sequence (or a one-step one), step 1 sent, step 2 three days later. */
async function leadWhoGotStep1(
  of: Sample,
  options: { name?: [string, string]; onReply?: string; outOfOfficeDays?: number; oneStep?: boolean } = {},
) {
  const fixture = await asNewAccount(service, {
    senderEmail: `owner-${randomUUID()}@vendor.test`,
    senderEmailConfirmedAt: new Date(),
  });
  expect((await fixture.api('PATCH', '/v1/account', { portalWebhookUrl: portalUrl })).status).toBe(200);
  const steps = options.oneStep ? [{ delay: days(0) }] : [{ delay: days(0) }, { delay: days(3) }];
  const sequence = await fixture.createSequence({ onReply: options.onReply, steps });
  if (options.outOfOfficeDays !== undefined) {
    const patched = await fixture.api('PATCH', `/v1/sequences/${sequence.id}`, { outOfOfficeDays: options.outOfOfficeDays });
    expect(patched.body.outOfOfficeDays).toBe(options.outOfOfficeDays);
  }
  const [firstName, lastName] = options.name ?? ['Ada', 'Lead'];
  const lead = await fixture.createLead({ email: of.lead, timezone: of.timeZone, firstName, lastName });
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  await eventually(async () => (await fixture.sentMessages(enrolment.id)).some((m) => m.status === 'sent'), { what: 'step 1 sent' });
  const { replyToken } = await fixture.enrolmentRow(enrolment.id);
  return { ...fixture, sequence, lead, enrolment, zone: of.timeZone, replyAddress: `r-${replyToken}@reply.example.com` };
}
type Lead = Awaited<ReturnType<typeof leadWhoGotStep1>>;

/**
 * The sample as it reaches `lead`: to their enrolment's reply address, with a Message-ID of its
 * own (the corpus repeats some), and each edit made (each must find its text: a changed sample
 * fails here, not in a puzzling assertion).
 */
function addressed(of: Sample, lead: Lead, edits: [string, string][] = []): string {
  let raw = of.raw
    .replaceAll(SAMPLE_REPLY_ADDRESS, lead.replyAddress)
    .replace(/^Message-ID: .*$/im, `Message-ID: <${randomUUID()}@sample.test>`);
  for (const [text, replacement] of edits) {
    expect(raw, `${of.name} holds "${text}"`).toContain(text);
    raw = raw.replaceAll(text, replacement);
  }
  return raw;
}

/** Raw MIME posted as another inbound provider does (/inbound/mime): the outcome. */
async function viaMime(raw: string): Promise<string> {
  const res = await fetch(`${service.baseUrl}/inbound/mime`, {
    method: 'POST',
    headers: { authorization: `Bearer ${inboundSecret}`, 'content-type': 'message/rfc822' },
    body: raw,
  });
  const body = (await res.json()) as { outcome: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.outcome;
}

/** The message as Resend's receiving API gives it (the sink holds it), announced by a signed email.received: the outcome. */
async function viaResend(raw: string): Promise<string> {
  const mail = await simpleParser(raw);
  const addresses = (value: AddressObject | AddressObject[] | undefined) =>
    [value ?? []].flat().flatMap((a) => a.value.map((v) => v.address ?? ''));
  const headers = Object.fromEntries(mail.headerLines.map((h) => [h.key, h.line.slice(h.line.indexOf(':') + 1).trim()]));
  const to = addresses(mail.to);
  const from = mail.from?.text ?? '';
  const emailId = sink.addReceived({
    from,
    to,
    received_for: to,
    cc: [],
    bcc: [],
    subject: mail.subject,
    text: mail.text,
    html: null,
    headers,
  });
  const res = await deliverWebhook(service.baseUrl, webhookSecret, {
    type: 'email.received',
    data: { email_id: emailId, from, to, subject: mail.subject },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.outcome;
}

type Entry = { type: string; at: string; [detail: string]: any };

const enrolmentOf = async (lead: Lead) => (await lead.api('GET', `/v1/enrolments/${lead.enrolment.id}`)).body;
const timelineOf = async (lead: Lead): Promise<Entry[]> => (await enrolmentOf(lead)).timeline;

/** The timeline entry of `type` that an inbound email wrote (it names the email). */
const entryOf = (lead: Lead, type: string) =>
  eventually(async () => (await timelineOf(lead)).find((e) => e.type === type && e.inboundId), { what: `a ${type} timeline entry` });

/** GET /v1/inbound-emails/:id, checked against its documented schema. */
async function inboundEmail(lead: Lead, id: string) {
  const res = await lead.api('GET', `/v1/inbound-emails/${id}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return inboundEmailSchema.parse(res.body);
}

const notificationsOf = async (lead: Lead) => (await lead.api('GET', '/v1/notifications')).body.data as Record<string, any>[];
const leadOf = async (lead: Lead) => (await lead.api('GET', `/v1/leads/${lead.lead.id}`)).body;

const portalEvent = (type: string, inboundId: string) =>
  eventually(async () => portalEvents.find((e) => e.type === type && e.data.inboundId === inboundId), { what: `${type} to the portal` });

/**
 * An email arriving for a lead who got step 1: the outcome the route answered, the timeline
 * entry of `entryType` it wrote, and the email as the API shows it.
 */
async function arrives(
  of: Sample,
  options: {
    via: (raw: string) => Promise<string>;
    entryType: string;
    edits?: [string, string][];
    /** What happens to the enrolment before the email arrives. */
    before?: (lead: Lead) => Promise<unknown>;
  } & Parameters<typeof leadWhoGotStep1>[1],
) {
  const lead = await leadWhoGotStep1(of, options);
  await options.before?.(lead);
  const outcome = await options.via(addressed(of, lead, options.edits));
  const entry = await entryOf(lead, options.entryType);
  const inbound = await inboundEmail(lead, entry.inboundId);
  return { lead, outcome, entry, inbound };
}
type Arrival = Awaited<ReturnType<typeof arrives>>;

/** Waits for the enrolment, through the API, to be `status` (and answers it). */
const enrolmentBecomes = (lead: Lead, status: string) =>
  eventually(
    async () => {
      const enrolment = await enrolmentOf(lead);
      return enrolment.status === status ? enrolment : undefined;
    },
    { what: `the enrolment to be ${status}` },
  );

// ---------------------------------------------------------------------------------------------

describe('an out-of-office reply from the lead (German Outlook, as raw MIME)', () => {
  const of = sample('outlook-de-abwesenheitsnotiz.eml');
  const returnDay = dayFromToday(of.timeZone, 10);
  const until = nextBusinessDayAfter(returnDay);
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, {
      via: viaMime,
      entryType: 'out_of_office',
      name: ['Anna', 'Schmidt'],
      edits: [['bis einschließlich 16.01.2026', `bis einschließlich ${returnDay.toFormat('dd.MM.yyyy')}`]],
    });
  });

  it('is stored as out_of_office, with the subject word as evidence, the day it names and the wait it causes', () => {
    expect(arrival.outcome).toBe('out-of-office recorded');
    expect(arrival.inbound).toMatchObject({
      class: 'out_of_office',
      evidence: { kind: 'subject', matched: 'Abwesenheitsnotiz' },
      action: 'wait_for_return',
      returnDate: returnDay.toISODate(),
      resumesAt: iso(until),
      sender: 'lead',
      correctedFrom: null,
    });
  });

  it('pauses the enrolment until the start of the next business day after the return day, in the lead’s zone', async () => {
    const enrolment = await enrolmentBecomes(arrival.lead, 'paused');
    expect(enrolment.pausedUntil).toBe(iso(until));
    expect(DateTime.fromISO(enrolment.pausedUntil, { zone: of.timeZone }).toFormat('HH:mm')).toBe('00:00');
  });

  it('says on the timeline that the lead is out of office, and until when', async () => {
    const change = await eventually(
      async () => (await timelineOf(arrival.lead)).find((e) => e.type === 'status_changed' && e.to === 'paused'),
      {
        what: 'the status change',
      },
    );
    expect(change).toMatchObject({ from: 'active', to: 'paused', reason: 'the lead is out of office', until: iso(until) });
  });

  it('is on the timeline as out_of_office with its class, evidence, action and return day', () => {
    expect(timelineEventSchema.safeParse(arrival.entry).error).toBeUndefined();
    expect(arrival.entry).toMatchObject({
      class: 'out_of_office',
      evidence: { kind: 'subject', matched: 'Abwesenheitsnotiz' },
      action: 'wait_for_return',
      returnDate: returnDay.toISODate(),
      until: iso(until),
      sender: 'lead',
    });
  });

  it('is notified, saying how it was read and until when the enrolment waits', async () => {
    const [notification, ...others] = await notificationsOf(arrival.lead);
    expect(others).toEqual([]);
    expect(notification).toMatchObject({
      type: 'out_of_office',
      title: 'Anna Schmidt is out of office (to Sam Seller)',
      enrolmentId: arrival.lead.enrolment.id,
    });
    expect(notification!.body).toContain('Read as an out-of-office reply (subject: Abwesenheitsnotiz)');
    expect(notification!.body).toContain(`the enrolment waits until ${until.toFormat('yyyy-LL-dd HH:mm')} ${of.timeZone}`);
  });

  it('is told to the portal as inbound.classified, with the day and the wait, and not as a reply', async () => {
    const event = await portalEvent('inbound.classified', arrival.inbound.id);
    expect(event.data).toMatchObject({
      enrolmentId: arrival.lead.enrolment.id,
      leadId: arrival.lead.lead.id,
      class: 'out_of_office',
      evidence: { kind: 'subject', matched: 'Abwesenheitsnotiz' },
      action: 'wait_for_return',
      returnDate: returnDay.toISODate(),
      resumesAt: iso(until),
    });
    expect(portalEvents.filter((e) => e.type === 'reply.received' && e.data.inboundId === arrival.inbound.id)).toEqual([]);
  });

  it('sends nothing meanwhile: step 2 stays unsent', async () => {
    await enrolmentBecomes(arrival.lead, 'paused');
    expect(await arrival.lead.sentMessages(arrival.lead.enrolment.id)).toHaveLength(1);
  });
});

describe('an out-of-office reply from the lead (Gmail’s vacation responder, through the Resend webhook)', () => {
  const of = sample('gmail-vacation-en.eml');
  const returnDay = dayFromToday(of.timeZone, 12).setLocale('en');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, {
      via: viaResend,
      entryType: 'out_of_office',
      edits: [
        ['Monday, January 19', returnDay.toFormat('cccc, LLLL d')],
        ['January 19', returnDay.toFormat('LLLL d')],
      ],
    });
  });

  it('is read as out_of_office, with the return day its text names', () => {
    expect(arrival.outcome).toBe('out-of-office recorded');
    expect(arrival.inbound).toMatchObject({
      class: 'out_of_office',
      evidence: { kind: 'subject', matched: 'Out of office' },
      action: 'wait_for_return',
      returnDate: returnDay.toISODate(),
    });
  });

  it('pauses the enrolment until the next business day after it, in the lead’s zone (New York)', async () => {
    const enrolment = await enrolmentBecomes(arrival.lead, 'paused');
    expect(enrolment.pausedUntil).toBe(iso(nextBusinessDayAfter(returnDay)));
    expect(arrival.inbound.resumesAt).toBe(enrolment.pausedUntil);
  });
});

describe('an out-of-office reply that names no return day', () => {
  const of = sample('outlook-en-no-date.eml');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'out_of_office', outOfOfficeDays: 3 });
  });

  it('is read as out_of_office without a return day, by the absence in its text', () => {
    expect(arrival.inbound).toMatchObject({
      class: 'out_of_office',
      evidence: { kind: 'body', matched: 'out of the office' },
      returnDate: null,
      action: 'wait_for_return',
    });
  });

  it('waits the sequence’s outOfOfficeDays (3) from its arrival', async () => {
    const enrolment = await enrolmentBecomes(arrival.lead, 'paused');
    const expected = iso(DateTime.fromISO(arrival.inbound.receivedAt, { zone: of.timeZone }).plus({ days: 3 }));
    expect(enrolment.pausedUntil).toBe(expected);
    expect(arrival.inbound.resumesAt).toBe(expected);
    expect(arrival.entry).toMatchObject({ until: expected });
    expect(arrival.entry).not.toHaveProperty('returnDate');
  });
});

describe('a ticket system’s acknowledgement from the lead’s domain', () => {
  const of = sample('freshdesk-ack-lead-domain.eml');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'auto_reply' });
  });

  it('is stored as auto_reply, with the header that told, and recorded only', () => {
    expect(arrival.outcome).toBe('auto-reply recorded');
    expect(arrival.inbound).toMatchObject({
      class: 'auto_reply',
      evidence: { kind: 'header', matched: 'x-autoreply: true' },
      action: 'record_only',
      sender: 'lead_domain',
      returnDate: null,
      resumesAt: null,
    });
  });

  it('changes nothing for the enrolment', async () => {
    expect(await enrolmentOf(arrival.lead)).toMatchObject({ status: 'active', pausedUntil: null, repliedAt: null });
  });

  it('is on the timeline as auto_reply with its class, evidence and action', () => {
    expect(timelineEventSchema.safeParse(arrival.entry).error).toBeUndefined();
    expect(arrival.entry).toMatchObject({
      class: 'auto_reply',
      evidence: { kind: 'header', matched: 'x-autoreply: true' },
      action: 'record_only',
      from: 'help@acme-robotics.test',
    });
  });

  it('is not notified: a help desk’s acknowledgement is noise', async () => {
    expect(await notificationsOf(arrival.lead)).toEqual([]);
  });

  it('is told to the portal as inbound.classified', async () => {
    const event = await portalEvent('inbound.classified', arrival.inbound.id);
    expect(event.data).toMatchObject({
      class: 'auto_reply',
      action: 'record_only',
      evidence: { kind: 'header', matched: 'x-autoreply: true' },
    });
  });
});

describe('a request to be removed, in Spanish, from the lead', () => {
  const of = sample('unsubscribe-es.eml');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaResend, entryType: 'unsubscribe_request', name: ['Lucía', 'Fernández'] });
  });

  it('is stored as unsubscribe_request, with the phrase as evidence', () => {
    expect(arrival.outcome).toBe('unsubscribe request: lead unsubscribed');
    expect(arrival.inbound).toMatchObject({
      class: 'unsubscribe_request',
      evidence: { kind: 'body', matched: 'denme de baja' },
      action: 'unsubscribe_lead',
      sender: 'lead',
    });
  });

  it('unsubscribes the lead and ends the enrolment as unsubscribed', async () => {
    await enrolmentBecomes(arrival.lead, 'unsubscribed');
    expect((await leadOf(arrival.lead)).unsubscribedAt).not.toBeNull();
  });

  it('is on the timeline with its class, evidence and action, and the unsubscribe names the email', async () => {
    expect(timelineEventSchema.safeParse(arrival.entry).error).toBeUndefined();
    expect(arrival.entry).toMatchObject({
      class: 'unsubscribe_request',
      action: 'unsubscribe_lead',
      evidence: { matched: 'denme de baja' },
    });
    const unsubscribe = await eventually(async () => (await timelineOf(arrival.lead)).find((e) => e.type === 'unsubscribe'));
    expect(unsubscribe).toMatchObject({ source: 'reply', inboundId: arrival.inbound.id });
  });

  it('is notified', async () => {
    const notifications = await notificationsOf(arrival.lead);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ type: 'unsubscribe_request', title: 'Lucía Fernández asked to be removed (to Sam Seller)' });
    expect(notifications[0]!.body).toContain('Read as a request to be removed (body: denme de baja)');
  });

  it('is told to the portal as inbound.classified', async () => {
    const event = await portalEvent('inbound.classified', arrival.inbound.id);
    expect(event.data).toMatchObject({ class: 'unsubscribe_request', action: 'unsubscribe_lead' });
  });
});

describe('a delivery status notification that reached the reply address (Gmail’s DSN)', () => {
  const of = sample('gmail-dsn-address-not-found.eml');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'bounce_notice', name: ['Jo', 'Doe'] });
  });

  it('is stored as bounce_notice, with its report type as evidence, and recorded only', () => {
    expect(arrival.outcome).toBe('bounce notice recorded');
    expect(arrival.inbound).toMatchObject({ class: 'bounce_notice', action: 'record_only', sender: 'other' });
    expect(arrival.inbound.evidence).toEqual({
      kind: 'header',
      matched: expect.stringMatching(/^content-type: multipart\/report.*delivery-status/),
    });
  });

  it('bounces nobody: the provider’s bounce event does that, and the enrolment goes on', async () => {
    expect(await enrolmentOf(arrival.lead)).toMatchObject({ status: 'active', pausedUntil: null });
    expect((await leadOf(arrival.lead)).bouncedAt).toBeNull();
  });

  it('is on the timeline and notified', async () => {
    expect(timelineEventSchema.safeParse(arrival.entry).error).toBeUndefined();
    expect(arrival.entry).toMatchObject({ class: 'bounce_notice', action: 'record_only', evidence: arrival.inbound.evidence });
    const notifications = await notificationsOf(arrival.lead);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ type: 'bounce_notice', title: expect.stringContaining('Jo Doe') });
    expect(notifications[0]!.body).toContain('Read as a delivery notice from a mail server');
  });

  it('is told to the portal as inbound.classified', async () => {
    const event = await portalEvent('inbound.classified', arrival.inbound.id);
    expect(event.data).toMatchObject({ class: 'bounce_notice', action: 'record_only' });
  });
});

describe('a colleague at the lead’s domain replying', () => {
  const of = sample('reply-from-colleague.eml');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaResend, entryType: 'reply', name: ['Ann', 'Lee'] });
  });

  it('is stored as a reply, its evidence the sender at the lead’s domain', () => {
    expect(arrival.outcome).toBe('reply recorded');
    expect(arrival.inbound).toMatchObject({
      class: 'reply',
      evidence: { kind: 'sender', matched: 'lead_domain' },
      action: 'on_reply',
      sender: 'lead_domain',
      from: 'bob.lee@acme-robotics.test',
    });
  });

  it('applies onReply: the enrolment ends as replied', async () => {
    await enrolmentBecomes(arrival.lead, 'replied');
  });

  it('is on the timeline as a reply with its class, evidence and action, naming who wrote', () => {
    expect(timelineEventSchema.safeParse(arrival.entry).error).toBeUndefined();
    expect(arrival.entry).toMatchObject({
      source: 'email',
      class: 'reply',
      evidence: { kind: 'sender', matched: 'lead_domain' },
      action: 'on_reply',
      from: 'bob.lee@acme-robotics.test',
      sender: 'lead_domain',
    });
  });

  it('is notified as a reply from the colleague', async () => {
    const notifications = await notificationsOf(arrival.lead);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({
      type: 'reply',
      title: "bob.lee@acme-robotics.test (at Ann Lee's domain) replied (to Sam Seller)",
    });
    expect(notifications[0]!.body).toContain("Read as a reply (sender: lead_domain); the sequence's on-reply setting applies.");
  });

  it('is told to the portal as inbound.classified and as reply.received', async () => {
    expect((await portalEvent('inbound.classified', arrival.inbound.id)).data).toMatchObject({ class: 'reply', action: 'on_reply' });
    expect((await portalEvent('reply.received', arrival.inbound.id)).data).toMatchObject({ sender: 'lead_domain' });
  });
});

describe('a stranger writing “Unsubscribe” to the reply address', () => {
  const of = sample('stranger-unsubscribe.eml');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'reply_from_other_address', name: ['Ann', 'Lee'] });
  });

  it('is stored as from_other_address and recorded only', () => {
    expect(arrival.outcome).toBe('reply from another address recorded');
    expect(arrival.inbound).toMatchObject({
      class: 'from_other_address',
      evidence: { kind: 'sender', matched: 'other' },
      action: 'record_only',
      sender: 'other',
    });
  });

  it('unsubscribes nobody and stops nothing', async () => {
    expect((await leadOf(arrival.lead)).unsubscribedAt).toBeNull();
    expect(await enrolmentOf(arrival.lead)).toMatchObject({ status: 'active', repliedAt: null });
  });

  it('is on the timeline with its class, evidence and action, and notified naming the writer', async () => {
    expect(timelineEventSchema.safeParse(arrival.entry).error).toBeUndefined();
    expect(arrival.entry).toMatchObject({ class: 'from_other_address', action: 'record_only', from: 'mallory@elsewhere.test' });
    const notifications = await notificationsOf(arrival.lead);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ type: 'reply_from_other_address', title: expect.stringContaining('mallory@elsewhere.test') });
  });

  it('is told to the portal as inbound.classified', async () => {
    expect((await portalEvent('inbound.classified', arrival.inbound.id)).data).toMatchObject({ class: 'from_other_address' });
  });
});

describe('a real reply from the lead while the enrolment waits for their return', () => {
  it('follows onReply as usual: the wait ends and the enrolment ends as replied (onReply stop)', async () => {
    const outOfOffice = sample('outlook-de-abwesenheitsnotiz.eml');
    const { lead } = await arrives(outOfOffice, { via: viaMime, entryType: 'out_of_office' });
    await enrolmentBecomes(lead, 'paused');
    const reply = sample('reply-de-mentions-dates.eml');
    expect(reply.lead).toBe(outOfOffice.lead);
    expect(await viaResend(addressed(reply, lead))).toBe('reply recorded');
    expect(await enrolmentBecomes(lead, 'replied')).toMatchObject({ pausedUntil: null });
    expect(await entryOf(lead, 'reply')).toMatchObject({ class: 'reply', action: 'on_reply', source: 'email' });
  });
});

describe('an out-of-office reply the enrolment cannot wait on', () => {
  const of = sample('outlook-en-no-date.eml');

  it('after the last step went: the enrolment stays completed, and the notification promises no wait', async () => {
    const { lead, inbound } = await arrives(of, {
      via: viaMime,
      entryType: 'out_of_office',
      oneStep: true,
      before: (lead) => enrolmentBecomes(lead, 'completed'),
    });
    expect(inbound.class).toBe('out_of_office');
    expect(await enrolmentOf(lead)).toMatchObject({ status: 'completed', pausedUntil: null });
    const [notification] = await notificationsOf(lead);
    expect(notification?.type).toBe('out_of_office');
    expect(notification!.body).not.toContain('resumes by itself');
  });

  it('while a person paused it: it stays paused without a date, and the notification promises no wait', async () => {
    const { lead, inbound } = await arrives(of, {
      via: viaMime,
      entryType: 'out_of_office',
      before: async (lead) => {
        await lead.api('POST', `/v1/enrolments/${lead.enrolment.id}/pause`);
        await enrolmentBecomes(lead, 'paused');
      },
    });
    expect(inbound.class).toBe('out_of_office');
    // The signal was sent (the email is recorded after it): a date would be written within moments.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await enrolmentOf(lead)).toMatchObject({ status: 'paused', pausedUntil: null });
    const [notification] = await notificationsOf(lead);
    expect(notification!.body).not.toContain('resumes by itself');
  });
});

// ---------------------------------------------------------------------------------------------
// A user's correction.

const correct = (lead: Lead, inboundId: string, body: unknown) => lead.api('POST', `/v1/inbound-emails/${inboundId}/classification`, body);

describe('a user correcting an auto-reply to a real reply', () => {
  const of = sample('zendesk-request-received.eml');
  let arrival: Arrival;
  let corrected: Awaited<ReturnType<typeof correct>>;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'auto_reply' });
    expect(arrival.inbound.class).toBe('auto_reply');
    corrected = await correct(arrival.lead, arrival.inbound.id, { class: 'reply' });
  });

  it('answers the email as corrected: a reply, corrected from auto_reply, its action onReply', () => {
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect(corrected.body).toMatchObject({
      class: 'reply',
      correctedFrom: 'auto_reply',
      action: 'on_reply',
      correctedAt: expect.any(String),
    });
    expect(corrected.body.effect).toContain("the sequence's on-reply setting applies");
  });

  it('applies onReply: the enrolment ends as replied (onReply stop)', async () => {
    await enrolmentBecomes(arrival.lead, 'replied');
  });

  it('is on the timeline as classification_corrected', async () => {
    const entry = await entryOf(arrival.lead, 'classification_corrected');
    expect(entry).toMatchObject({ inboundId: arrival.inbound.id, previousClass: 'auto_reply', class: 'reply', action: 'on_reply' });
  });

  it('writes only timeline entries the API documents', async () => {
    await enrolmentBecomes(arrival.lead, 'replied');
    for (const entry of await timelineOf(arrival.lead)) {
      expect(timelineEventSchema.safeParse(entry).error, JSON.stringify(entry)).toBeUndefined();
    }
  });

  it('is told to the portal as inbound.corrected', async () => {
    const event = await portalEvent('inbound.corrected', arrival.inbound.id);
    expect(event.data).toMatchObject({ previousClass: 'auto_reply', class: 'reply', correctedFrom: 'auto_reply' });
  });
});

describe('a user correcting a reply (onReply pause) to an out-of-office with a return day', () => {
  const of = sample('reply-fr-outlook-quoted.eml');
  const returnDay = dayFromToday(of.timeZone, 14);
  const until = nextBusinessDayAfter(returnDay);
  let arrival: Arrival;
  let corrected: Awaited<ReturnType<typeof correct>>;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'reply', onReply: 'pause' });
    expect(arrival.inbound).toMatchObject({ class: 'reply', evidence: { kind: 'sender', matched: 'lead' } });
    await enrolmentBecomes(arrival.lead, 'paused');
    corrected = await correct(arrival.lead, arrival.inbound.id, { class: 'out_of_office', returnDate: returnDay.toISODate() });
  });

  it('answers with the return day and until when the enrolment waits', () => {
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect(corrected.body).toMatchObject({
      class: 'out_of_office',
      correctedFrom: 'reply',
      action: 'wait_for_return',
      returnDate: returnDay.toISODate(),
      resumesAt: iso(until),
    });
  });

  it('turns the reply’s pause into a wait for the lead’s return, paused until the next business day after it', async () => {
    const enrolment = await eventually(
      async () => {
        const e = await enrolmentOf(arrival.lead);
        return e.status === 'paused' && e.pausedUntil ? e : undefined;
      },
      { what: 'a paused enrolment with pausedUntil' },
    );
    expect(enrolment.pausedUntil).toBe(iso(until));
  });

  it('is on the timeline as classification_corrected, with until when', async () => {
    const entry = await entryOf(arrival.lead, 'classification_corrected');
    expect(entry).toMatchObject({ previousClass: 'reply', class: 'out_of_office', action: 'wait_for_return', until: iso(until) });
  });
});

describe('a user correcting an unsubscribe request to a reply', () => {
  const of = sample('unsubscribe-de.eml');
  let arrival: Arrival;
  let corrected: Awaited<ReturnType<typeof correct>>;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'unsubscribe_request' });
    await enrolmentBecomes(arrival.lead, 'unsubscribed');
    expect((await leadOf(arrival.lead)).unsubscribedAt).not.toBeNull();
    corrected = await correct(arrival.lead, arrival.inbound.id, { class: 'reply' });
  });

  it('lifts the unsubscription that email made: the lead’s unsubscribedAt is null again', async () => {
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect(corrected.body).toMatchObject({ class: 'reply', correctedFrom: 'unsubscribe_request', action: 'on_reply' });
    expect((await leadOf(arrival.lead)).unsubscribedAt).toBeNull();
  });

  it('says what it undid and what it could not: the enrolment had already ended', () => {
    expect(corrected.body.effect).toContain('the lead is subscribed again');
    expect(corrected.body.effect).toContain('the enrolment had already ended (unsubscribed)');
  });

  it('leaves the ended enrolment ended, with the correction on its timeline', async () => {
    expect((await enrolmentOf(arrival.lead)).status).toBe('unsubscribed');
    expect(await entryOf(arrival.lead, 'classification_corrected')).toMatchObject({ previousClass: 'unsubscribe_request', class: 'reply' });
  });
  it('tells the portal again when the lead, subscribed again, unsubscribes later (through the footer’s one-click link)', async () => {
    const told = () => portalEvents.filter((e) => e.type === 'lead.unsubscribed' && e.data.leadId === arrival.lead.lead.id);
    await eventually(async () => told().length === 1, { what: 'the first unsubscription told' });
    const [step1] = await arrival.lead.sentMessages(arrival.lead.enrolment.id);
    const res = await fetch(`${service.baseUrl}/u/${unsubscribeToken(service.config.UNSUBSCRIBE_SECRET, step1!.id)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).toBe(200);
    await eventually(async () => told().length === 2, { what: 'the second unsubscription told' });
  });
});

describe('a user correcting a reply (onReply pause) to an auto-reply: “not a reply”', () => {
  const of = sample('reply-es-gmail.eml');
  let arrival: Arrival;
  let corrected: Awaited<ReturnType<typeof correct>>;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'reply', onReply: 'pause' });
    await enrolmentBecomes(arrival.lead, 'paused');
    corrected = await correct(arrival.lead, arrival.inbound.id, { class: 'auto_reply' });
  });

  it('resumes the pause the email caused', async () => {
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect(corrected.body).toMatchObject({ class: 'auto_reply', correctedFrom: 'reply', action: 'record_only' });
    expect(corrected.body.effect).toContain('the enrolment resumes');
    expect(await enrolmentBecomes(arrival.lead, 'active')).toMatchObject({ pausedUntil: null });
  });
});

describe('a user giving the day of an out-of-office that named none: “out of office until …”', () => {
  const of = sample('outlook-en-no-date.eml');
  const returnDay = dayFromToday(of.timeZone, 20);
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'out_of_office' });
    await enrolmentBecomes(arrival.lead, 'paused');
  });

  it('moves the wait from the sequence’s 7 days to the next business day after that day', async () => {
    const sevenDays = iso(DateTime.fromISO(arrival.inbound.receivedAt, { zone: of.timeZone }).plus({ days: 7 }));
    expect((await enrolmentOf(arrival.lead)).pausedUntil).toBe(sevenDays);
    const corrected = await correct(arrival.lead, arrival.inbound.id, { class: 'out_of_office', returnDate: returnDay.toISODate() });
    expect(corrected.body).toMatchObject({
      class: 'out_of_office',
      returnDate: returnDay.toISODate(),
      resumesAt: iso(nextBusinessDayAfter(returnDay)),
    });
    await eventually(async () => (await enrolmentOf(arrival.lead)).pausedUntil === iso(nextBusinessDayAfter(returnDay)), {
      what: 'pausedUntil moved',
    });
  });
});

describe('a user correcting an out-of-office to a real reply', () => {
  const of = sample('outlook-en-no-date.eml');

  it('ends the wait and applies onReply: the enrolment ends as replied (onReply stop)', async () => {
    const { lead, inbound } = await arrives(of, { via: viaMime, entryType: 'out_of_office' });
    await enrolmentBecomes(lead, 'paused');
    const corrected = await correct(lead, inbound.id, { class: 'reply' });
    expect(corrected.body).toMatchObject({ class: 'reply', correctedFrom: 'out_of_office', action: 'on_reply', resumesAt: null });
    expect(await enrolmentBecomes(lead, 'replied')).toMatchObject({ pausedUntil: null });
  });
});

describe('a correction the service refuses', () => {
  const of = sample('freshdesk-ack-lead-domain.eml');
  let arrival: Arrival;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'auto_reply' });
  });

  /** The email, its enrolment and its timeline as they were before the refused correction. */
  async function unchanged() {
    expect(await inboundEmail(arrival.lead, arrival.inbound.id)).toEqual(arrival.inbound);
    expect((await enrolmentOf(arrival.lead)).status).toBe('active');
    expect((await timelineOf(arrival.lead)).map((e) => e.type)).not.toContain('classification_corrected');
  }

  it('of another account’s email is 404, for reading it too, and changes nothing', async () => {
    const stranger = await asNewAccount(service);
    const res = await stranger.api('POST', `/v1/inbound-emails/${arrival.inbound.id}/classification`, { class: 'reply' });
    expect([res.status, res.body.error?.code]).toEqual([404, 'not_found']);
    expect((await stranger.api('GET', `/v1/inbound-emails/${arrival.inbound.id}`)).status).toBe(404);
    await unchanged();
  });

  it('with an unknown class is a 400 naming class, and changes nothing', async () => {
    const res = await correct(arrival.lead, arrival.inbound.id, { class: 'spam' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', field: 'class' });
    await unchanged();
  });

  it('with a returnDate for class reply is a 400 naming returnDate, and changes nothing', async () => {
    const res = await correct(arrival.lead, arrival.inbound.id, { class: 'reply', returnDate: dayFromToday('UTC', 5).toISODate() });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', field: 'returnDate' });
    expect(res.body.error.message).toContain('out_of_office');
    await unchanged();
  });
});

describe('a user correcting an unsubscribe request before the workflow has heard of it (a busy or restarting worker)', () => {
  const of = sample('unsubscribe-nl.eml');

  it('still leaves the lead subscribed, as the correction says', async () => {
    const lead = await leadWhoGotStep1(of);
    await service.stopWorker();
    let effect: string;
    try {
      expect(await viaMime(addressed(of, lead))).toBe('unsubscribe request: lead unsubscribed');
      const entry = await entryOf(lead, 'unsubscribe_request');
      const corrected = await correct(lead, entry.inboundId, { class: 'reply' });
      expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
      effect = corrected.body.effect;
    } finally {
      await service.startWorker();
    }
    expect(effect).toContain('the lead is subscribed again');
    // The workflow now takes the unsubscribe and the reply it was sent, and ends.
    await eventually(async () => !['active', 'paused'].includes((await enrolmentOf(lead)).status), { what: 'the enrolment to end' });
    expect((await leadOf(lead)).unsubscribedAt).toBeNull();
  });
});

describe('a user correcting an unsubscribe request when the lead also unsubscribed otherwise (a spam complaint later)', () => {
  const of = sample('unsubscribe-de.eml');
  let arrival: Arrival;
  let corrected: Awaited<ReturnType<typeof correct>>;
  beforeAll(async () => {
    arrival = await arrives(of, { via: viaMime, entryType: 'unsubscribe_request' });
    await enrolmentBecomes(arrival.lead, 'unsubscribed');
    const [message] = await arrival.lead.sentMessages(arrival.lead.enrolment.id);
    const complaint = await deliverWebhook(service.baseUrl, webhookSecret, {
      type: 'email.complained',
      data: { email_id: message!.providerId, tags: { message_id: message!.id } },
    });
    expect(complaint.status, JSON.stringify(complaint.body)).toBe(200);
    corrected = await correct(arrival.lead, arrival.inbound.id, { class: 'reply' });
  });

  it('lifts only that email’s cause: the lead stays unsubscribed, and the answer says why', async () => {
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect(corrected.body.effect).toContain('the lead stays unsubscribed (for another reason too)');
    expect((await leadOf(arrival.lead)).unsubscribedAt).not.toBeNull();
  });
});

describe('a user correcting a reply (onReply pause) to an auto-reply after a person paused the enrolment again', () => {
  const of = sample('reply-es-gmail.eml');

  it('leaves the person’s pause alone: the email no longer made it', async () => {
    const { lead, inbound } = await arrives(of, { via: viaMime, entryType: 'reply', onReply: 'pause' });
    await enrolmentBecomes(lead, 'paused');
    expect((await lead.api('POST', `/v1/enrolments/${lead.enrolment.id}/resume`)).status).toBe(200);
    expect((await lead.api('POST', `/v1/enrolments/${lead.enrolment.id}/pause`)).status).toBe(200);
    const corrected = await correct(lead, inbound.id, { class: 'auto_reply' });
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect(corrected.body.effect).not.toContain('resumes');
    expect((await enrolmentOf(lead)).status).toBe('paused');
  });
});

describe('a correction whose side effects were cut short (the service died after its commit)', () => {
  const of = sample('reply-es-gmail.eml');

  it('is finished by asking for the same correction again, once', async () => {
    const { lead, inbound } = await arrives(of, { via: viaMime, entryType: 'reply', onReply: 'pause' });
    await enrolmentBecomes(lead, 'paused');
    // What the correction to auto_reply commits before its side effects: the class and the correction kept.
    const { db } = service.database;
    await db
      .update(inboundMessages)
      .set({ classification: 'auto_reply', action: 'record_only', correctedFrom: 'reply', correctedAt: new Date(), isAutoReply: true })
      .where(eq(inboundMessages.id, inbound.id));
    await db.insert(inboundCorrections).values({
      accountId: lead.account.id,
      inboundId: inbound.id,
      previousClass: 'reply',
      previousAction: 'on_reply',
      class: 'auto_reply',
      action: 'record_only',
      enrolmentStatus: 'paused',
      pausedByThis: true,
    });

    const again = await correct(lead, inbound.id, { class: 'auto_reply' });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.effect).toContain('the enrolment resumes');
    await enrolmentBecomes(lead, 'active');
    expect(await entryOf(lead, 'classification_corrected')).toMatchObject({ previousClass: 'reply', class: 'auto_reply' });

    const thrice = await correct(lead, inbound.id, { class: 'auto_reply' });
    expect(thrice.body.effect).toBe('nothing: the email was already read so');
    expect((await timelineOf(lead)).filter((e) => e.type === 'classification_corrected')).toHaveLength(1);
  });
});

describe('a correction naming a return day far from the email', () => {
  const of = sample('outlook-en-no-date.eml');

  it('is a 422 naming returnDate, a year ahead or before the email, and changes nothing', async () => {
    const { lead, inbound } = await arrives(of, { via: viaMime, entryType: 'out_of_office' });
    for (const day of [dayFromToday(of.timeZone, 400), dayFromToday(of.timeZone, -3)]) {
      const res = await correct(lead, inbound.id, { class: 'out_of_office', returnDate: day.toISODate() });
      expect([res.status, res.body.error?.code, res.body.error?.field]).toEqual([422, 'return_date_out_of_range', 'returnDate']);
    }
    expect(await inboundEmail(lead, inbound.id)).toEqual(inbound);
  });
});

describe('an unsubscribe request corrected to a reply and back again', () => {
  const of = sample('unsubscribe-de.eml');

  it('unsubscribes the lead again, its cause standing again', async () => {
    const { lead, inbound } = await arrives(of, { via: viaMime, entryType: 'unsubscribe_request' });
    await enrolmentBecomes(lead, 'unsubscribed');
    expect((await correct(lead, inbound.id, { class: 'reply' })).body.effect).toContain('the lead is subscribed again');
    const back = await correct(lead, inbound.id, { class: 'unsubscribe_request' });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect((await leadOf(lead)).unsubscribedAt).not.toBeNull();
    const causes = await service.database.db.select().from(leadUnsubscriptions).where(eq(leadUnsubscriptions.inboundId, inbound.id));
    expect(causes.map((c) => c.liftedAt)).toEqual([null]);
  });
});

describe('two corrections of one email at once', () => {
  const of = sample('reply-es-gmail.eml');

  it('apply one after the other: the second starts from the class the first left', async () => {
    const { lead, inbound } = await arrives(of, { via: viaMime, entryType: 'reply', onReply: 'continue' });
    const answers = await Promise.all([
      correct(lead, inbound.id, { class: 'unsubscribe_request' }),
      correct(lead, inbound.id, { class: 'auto_reply' }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const kept = await service.database.db
      .select()
      .from(inboundCorrections)
      .where(eq(inboundCorrections.inboundId, inbound.id))
      .orderBy(inboundCorrections.createdAt);
    expect(kept).toHaveLength(2);
    expect(kept[0]!.previousClass).toBe('reply');
    expect(kept[1]!.previousClass).toBe(kept[0]!.class);
    expect((await inboundEmail(lead, inbound.id)).class).toBe(kept[1]!.class);
  });
});
