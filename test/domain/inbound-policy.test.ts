import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../config.js';
import { actionFor, describeAction, inboundAction, INBOUND_CLASSES, outOfOfficeUntil } from '../../domain/inbound-policy.js';
import { envelopeFor } from '../../domain/render-message.js';

const local = (at: Date, zone: string) => DateTime.fromJSDate(at, { zone }).toISO({ suppressMilliseconds: true });

describe('what the service does with an inbound email', () => {
  it('applies the sequence’s on-reply setting to a reply', () => {
    expect(inboundAction('reply', 'lead')).toBe('on_reply');
    expect(inboundAction('reply', 'lead_domain')).toBe('on_reply');
  });

  it('waits for the lead’s return after an out-of-office', () => {
    expect(inboundAction('out_of_office', 'lead')).toBe('wait_for_return');
  });

  it('only records a colleague’s out-of-office: it says nothing of when the lead is back', () => {
    expect(inboundAction('out_of_office', 'lead_domain')).toBe('record_only');
  });

  it('unsubscribes the lead who asks to be removed, but reads a colleague’s request as a reply', () => {
    expect(inboundAction('unsubscribe_request', 'lead')).toBe('unsubscribe_lead');
    expect(inboundAction('unsubscribe_request', 'lead_domain')).toBe('on_reply');
  });

  it('only records automatic replies, delivery notices and strangers’ emails', () => {
    for (const c of ['auto_reply', 'bounce_notice', 'from_other_address'] as const) expect(inboundAction(c, 'lead')).toBe('record_only');
  });

  it('has an action for every class', () => {
    for (const c of INBOUND_CLASSES)
      expect(['on_reply', 'wait_for_return', 'unsubscribe_lead', 'record_only']).toContain(inboundAction(c, 'lead'));
  });
});

describe('an out-of-office for an enrolment that would not wait', () => {
  it('is only recorded when the enrolment has ended or a person paused it', () => {
    expect(actionFor('out_of_office', 'lead', { status: 'completed', pausedUntil: null })).toBe('record_only');
    expect(actionFor('out_of_office', 'lead', { status: 'paused', pausedUntil: null })).toBe('record_only');
    expect(actionFor('out_of_office', 'lead', null)).toBe('record_only');
  });

  it('moves the date of an enrolment already waiting, and makes an active one wait', () => {
    expect(actionFor('out_of_office', 'lead', { status: 'paused', pausedUntil: new Date() })).toBe('wait_for_return');
    expect(actionFor('out_of_office', 'lead', { status: 'active', pausedUntil: null })).toBe('wait_for_return');
  });
});

describe('how long an enrolment waits for a lead who is out of office', () => {
  it('until the start of the business day after the return day, in the lead’s zone', () => {
    // Back on Thursday 14 January 2027: the enrolment resumes on Friday the 15th at midnight in Berlin.
    const until = outOfOfficeUntil({
      returnDate: '2027-01-14',
      receivedAt: new Date('2027-01-04T08:00:00Z'),
      timeZone: 'Europe/Berlin',
      defaultDays: 7,
    });
    expect(local(until, 'Europe/Berlin')).toBe('2027-01-15T00:00:00+01:00');
  });

  it('over the weekend when the return day is a Friday', () => {
    const until = outOfOfficeUntil({
      returnDate: '2027-01-15',
      receivedAt: new Date('2027-01-04T08:00:00Z'),
      timeZone: 'UTC',
      defaultDays: 7,
    });
    expect(local(until, 'UTC')).toBe('2027-01-18T00:00:00Z');
  });

  it('the sequence’s number of days after the email when it names no return day', () => {
    const receivedAt = new Date('2027-01-04T08:30:00Z');
    const until = outOfOfficeUntil({ returnDate: null, receivedAt, timeZone: 'America/New_York', defaultDays: 3 });
    expect(until.getTime() - receivedAt.getTime()).toBe(3 * 24 * 3_600_000);
  });
});

describe('the words for an action', () => {
  it('say until when an enrolment waits, in the lead’s zone', () => {
    const text = describeAction('wait_for_return', { at: new Date('2027-01-14T23:00:00Z'), zone: 'Europe/Berlin' });
    expect(text).toBe('the enrolment waits until 2027-01-15 00:00 Europe/Berlin, then resumes by itself');
  });
});

describe('the headers of our emails', () => {
  it('carry nothing that asks the lead’s auto-responder to stay silent, so an out-of-office reaches us', () => {
    const config = {
      UNSUBSCRIBE_SECRET: 's'.repeat(32),
      PUBLIC_BASE_URL: 'https://app.example.com',
      INBOUND_DOMAIN: 'reply.example.com',
    } as Config;
    const { headers } = envelopeFor(config, '3f8a2b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c', 'token');
    const names = Object.keys(headers).map((h) => h.toLowerCase());
    for (const silencing of ['auto-submitted', 'x-auto-response-suppress', 'precedence', 'x-autoreply', 'x-autorespond']) {
      expect(names).not.toContain(silencing);
    }
  });
});
