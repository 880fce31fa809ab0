import { describe, expect, it } from 'vitest';
import { enrolRefusal, REFUSAL_MESSAGES, sendBlocker, sequenceRefusal } from '../domain/enrolment-rules.js';
import { ENROLMENT_STATUSES, FINAL_ENROLMENT_STATUSES, isLive, LIVE_ENROLMENT_STATUSES } from '../domain/enrolment-status.js';
import { replyUnhandled, SUPPRESSION_OUTCOME, suppressionOf } from '../domain/suppression.js';
import { generateApiKey, parseApiKey, secretMatches } from '../domain/api-key.js';
import {
  assertKnownMergeTags,
  isCustomFieldName,
  MAX_TEMPLATE_TAGS,
  missingMergeFields,
  renderTemplate,
  requiredMergeFields,
  type MergeContext,
} from '../domain/merge-fields.js';

const eligible = {
  duplicateInRequest: false,
  lead: { email: 'a@example.com', unsubscribedAt: null, bouncedAt: null, doNotContactAt: null } as {
    email: string | null;
    unsubscribedAt: Date | null;
    bouncedAt: Date | null;
    doNotContactAt: Date | null;
  },
  activeInThisSequence: false,
  activeInOtherSequence: false,
  allowParallelEnrolment: false,
  missingFields: [] as string[],
  capacityLeft: Infinity,
};
const lead = eligible.lead;

describe('who may be enrolled', () => {
  it('anyone with an address and nothing against them', () => {
    expect(enrolRefusal(eligible)).toBeNull();
  });
  it.each([
    [{ duplicateInRequest: true }, 'duplicate_in_request'],
    [{ lead: undefined }, 'lead_not_found'],
    [{ lead: { ...lead, email: null } }, 'no_email'],
    [{ lead: { ...lead, unsubscribedAt: new Date() } }, 'unsubscribed'],
    [{ lead: { ...lead, bouncedAt: new Date() } }, 'bounced'],
    [{ lead: { ...lead, doNotContactAt: new Date() } }, 'do_not_contact'],
    [{ activeInThisSequence: true }, 'already_enrolled'],
    [{ activeInOtherSequence: true }, 'active_in_other_sequence'],
    [{ missingFields: ['company'] }, 'missing_merge_fields'],
    [{ capacityLeft: 0 }, 'plan_limit_active_enrolments'],
  ])('not %o: %s', (change, reason) => {
    expect(enrolRefusal({ ...eligible, ...change })).toBe(reason);
  });
  it('a lead active elsewhere when the account allows parallel enrolment', () => {
    expect(enrolRefusal({ ...eligible, activeInOtherSequence: true, allowParallelEnrolment: true })).toBeNull();
  });
  it('names the first obstacle: the request, then the address, then other enrolments, then fields, then the plan', () => {
    const everything = {
      duplicateInRequest: true,
      lead: { email: null, unsubscribedAt: new Date(), bouncedAt: new Date(), doNotContactAt: new Date() },
      activeInThisSequence: true,
      activeInOtherSequence: true,
      allowParallelEnrolment: false,
      missingFields: ['company'],
      capacityLeft: 0,
    };
    expect(enrolRefusal(everything)).toBe('duplicate_in_request');
    expect(enrolRefusal({ ...everything, duplicateInRequest: false })).toBe('unsubscribed');
    // A do-not-contact lead is refused before anything about its enrolments.
    expect(enrolRefusal({ ...eligible, lead: { ...lead, doNotContactAt: new Date() }, activeInThisSequence: true })).toBe('do_not_contact');
    expect(enrolRefusal({ ...eligible, activeInThisSequence: true, missingFields: ['company'], capacityLeft: 0 })).toBe('already_enrolled');
    expect(enrolRefusal({ ...eligible, missingFields: ['company'], capacityLeft: 0 })).toBe('missing_merge_fields');
  });
  it('no lead at all in an archived sequence or one without steps', () => {
    expect(sequenceRefusal({ status: 'archived', liveStepCount: 3 })).toBe('sequence_archived');
    expect(sequenceRefusal({ status: 'active', liveStepCount: 0 })).toBe('sequence_has_no_steps');
    expect(sequenceRefusal({ status: 'paused', liveStepCount: 1 })).toBeNull();
  });
});

describe('whether a lead may be emailed at all', () => {
  it('an unsubscribe or a bounce counts before a missing address', () => {
    expect(suppressionOf({ email: null, unsubscribedAt: new Date(), bouncedAt: null, doNotContactAt: null })).toBe('unsubscribed');
    expect(suppressionOf({ email: null, unsubscribedAt: null, bouncedAt: new Date(), doNotContactAt: null })).toBe('bounced');
    expect(suppressionOf({ email: null, unsubscribedAt: null, bouncedAt: null, doNotContactAt: null })).toBe('no_email');
    expect(suppressionOf(lead)).toBeNull();
  });
  it("the portal's do not contact suppresses a lead with an address, and counts before a missing one", () => {
    expect(suppressionOf({ ...lead, doNotContactAt: new Date() })).toBe('do_not_contact');
    expect(suppressionOf({ ...lead, email: null, doNotContactAt: new Date() })).toBe('do_not_contact');
    // The lead's own word and the address's fate are named first.
    expect(suppressionOf({ ...lead, unsubscribedAt: new Date(), doNotContactAt: new Date() })).toBe('unsubscribed');
    expect(suppressionOf({ ...lead, bouncedAt: new Date(), doNotContactAt: new Date() })).toBe('bounced');
    // What a live enrolment of such a lead becomes: stopped (the lead did nothing), with the portal's reason.
    expect(SUPPRESSION_OUTCOME.do_not_contact).toEqual({ status: 'stopped', reason: 'the portal marked the lead do not contact' });
    expect(REFUSAL_MESSAGES.do_not_contact).toBe('the portal marked the lead do not contact');
  });
  it('a reply waits to be handled until the enrolment is resumed after it', () => {
    const day = (d: number) => new Date(Date.UTC(2026, 0, d));
    expect(replyUnhandled({ repliedAt: null, resumedAt: null })).toBe(false);
    expect(replyUnhandled({ repliedAt: day(2), resumedAt: null })).toBe(true);
    expect(replyUnhandled({ repliedAt: day(2), resumedAt: day(3) })).toBe(false);
    expect(replyUnhandled({ repliedAt: day(4), resumedAt: day(3) })).toBe(true);
  });
});

describe('live and final statuses', () => {
  it('split every status in two', () => {
    expect([...LIVE_ENROLMENT_STATUSES, ...FINAL_ENROLMENT_STATUSES].sort()).toEqual([...ENROLMENT_STATUSES].sort());
    expect(ENROLMENT_STATUSES.filter(isLive)).toEqual(['active', 'paused']);
  });
});

describe('whether a due email may go', () => {
  const ready = {
    enrolmentStatus: 'active' as const,
    sequenceStatus: 'active' as const,
    onReply: 'stop' as const,
    lead,
    repliedAt: null,
    resumedAt: null,
  };
  it('goes when nothing stands in the way', () => {
    expect(sendBlocker(ready)).toBeNull();
  });
  it('holds for a reply recorded first, per the on-reply setting', () => {
    const replied = { ...ready, repliedAt: new Date('2026-01-02') };
    expect(sendBlocker(replied)?.status).toBe('replied');
    expect(sendBlocker({ ...replied, onReply: 'pause' })?.status).toBe('paused');
    expect(sendBlocker({ ...replied, onReply: 'continue' })).toBeNull();
  });
  it('goes again after a resume that followed the reply', () => {
    expect(sendBlocker({ ...ready, onReply: 'pause', repliedAt: new Date('2026-01-02'), resumedAt: new Date('2026-01-03') })).toBeNull();
  });
  it('holds for suppression and sequence-wide states', () => {
    expect(sendBlocker({ ...ready, lead: { ...lead, unsubscribedAt: new Date() } })?.status).toBe('unsubscribed');
    expect(sendBlocker({ ...ready, lead: { ...lead, bouncedAt: new Date() } })?.status).toBe('bounced');
    expect(sendBlocker({ ...ready, lead: { ...lead, doNotContactAt: new Date() } })).toEqual({
      status: 'stopped',
      reason: 'the portal marked the lead do not contact',
    });
    expect(sendBlocker({ ...ready, lead: { ...lead, email: null } })).toEqual({
      status: 'failed',
      reason: 'the lead has no email address',
    });
    expect(sendBlocker({ ...ready, sequenceStatus: 'paused' })?.status).toBe('paused');
    expect(sendBlocker({ ...ready, sequenceStatus: 'archived' })?.status).toBe('stopped');
    expect(sendBlocker({ ...ready, enrolmentStatus: 'stopped' })?.status).toBe('stopped');
  });
  it('holds, paused, while its sender is retired; a reply recorded first still ends it as replied', () => {
    expect(sendBlocker({ ...ready, senderRetired: true })).toEqual({
      status: 'paused',
      reason: 'its sender was retired: move it to another sender to go on',
    });
    expect(sendBlocker({ ...ready, senderRetired: true, repliedAt: new Date('2026-01-02') })?.status).toBe('replied');
  });
  it('holds, paused with the figures, while the breaker has tripped on its sequence or its sender, until a person resumes them', () => {
    const trip = {
      cause: 'bounce_protection' as const,
      scope: 'sender' as const,
      sent: 30,
      count: 2,
      rate: 2 / 30,
      threshold: 0.03,
      windowDays: 7,
      trippedAt: '2026-12-01T00:00:00Z',
      resumedAt: null,
    };
    expect(sendBlocker({ ...ready, senderProtection: trip })).toEqual({
      status: 'paused',
      reason: "bounce protection: 2 of 30 of the sender's emails hard-bounced (6.67 %) in the last 7 days, over the 3 % threshold",
    });
    expect(sendBlocker({ ...ready, senderProtection: { ...trip, resumedAt: '2026-12-02T00:00:00Z' } })).toBeNull();
    expect(sendBlocker({ ...ready, sequenceStatus: 'paused', sequenceProtection: { ...trip, scope: 'sequence' } })?.reason).toMatch(
      /^bounce protection: 2 of 30 of its emails/,
    );
  });
});

const context: MergeContext = {
  lead: {
    first_name: 'Ada',
    last_name: 'Lovelace',
    full_name: 'Ada Lovelace',
    email: 'ada@example.com',
    company: '',
    title: '',
    phone: '',
  },
  custom: { plan: 'Pro' },
  sender: { name: 'Sam', email: 'sam@example.com', company: 'Acme', signature: '' },
};

describe('merge tags', () => {
  it('accept lead, custom and sender fields', () => {
    expect(() => assertKnownMergeTags('Hi {{ first_name }} from {{ sender.company }} on {{ custom.plan }}')).not.toThrow();
  });
  it('reject an unknown tag, naming it', () => {
    expect(() => assertKnownMergeTags('Hi {{ frist_name }}')).toThrowError(/unknown merge tag \{\{ frist_name \}\}/);
    expect(() => assertKnownMergeTags('{{ sender.password }}')).toThrowError(/sender.password/);
  });
  it('reject broken syntax', () => {
    expect(() => assertKnownMergeTags('Hi {{ first_name ')).toThrowError(/invalid merge tag syntax/);
  });
  it('require only the fields printed without a default', () => {
    expect(requiredMergeFields('{{ first_name | default: "there" }} at {{ company }}, {{ custom.plan }}')).toEqual([
      'company',
      'custom.plan',
    ]);
  });
  it('name the fields a lead lacks', () => {
    expect(missingMergeFields(['company', 'first_name', 'custom.plan', 'custom.size'], context)).toEqual(['company', 'custom.size']);
  });
  it('escape lead values as Markdown text in bodies and fall back to defaults', () => {
    const evil = { ...context, lead: { ...context.lead, first_name: '[Claim](https://evil.test)\n# <b>' } };
    expect(renderTemplate('Hi {{ first_name }}', evil, { forMarkdown: true })).toBe(
      'Hi \\[Claim\\]\\(https\\:\\/\\/evil\\.test\\) \\# \\<b\\>',
    );
    expect(renderTemplate('at {{ company | default: "your company" }}', context)).toBe('at your company');
  });
});

describe('what a template may do (its cost is bounded before it runs)', () => {
  it.each([
    ['a loop', '{% for i in (1..100000) %}{% cycle "a","b" %}{% endfor %}', /for %\} is not available/],
    ['a variable', '{% assign a = first_name %}', /assign %\} is not available/],
    ['a captured block', '{% capture a %}x{% endcapture %}', /capture %\} is not available/],
    ['a file', '{% include ".env" %}', /include %\} is not available/],
    ['a filter that reads the clock', '{{ "now" | date: "%Y" }}', /date/],
    ['a random filter', '{{ first_name | split: "" | sample }}', /sample/],
  ])('refuses %s when the step is saved', (_what, source, message) => {
    expect(() => assertKnownMergeTags(source)).toThrowError(message);
  });
  it('allows conditions and text filters', () => {
    expect(() =>
      assertKnownMergeTags('{% if company %}at {{ company | upcase }}{% else %}there{% endif %} {{ first_name | split: " " | first }}'),
    ).not.toThrow();
  });
  it(`refuses more than ${MAX_TEMPLATE_TAGS} merge tags in one template, naming the limit`, () => {
    const source = '{{ first_name }}'.repeat(MAX_TEMPLATE_TAGS + 1);
    expect(() => assertKnownMergeTags(source)).toThrowError(new RegExp(`at most ${MAX_TEMPLATE_TAGS}.*has ${MAX_TEMPLATE_TAGS + 1}`));
    expect(() => assertKnownMergeTags('{{ first_name }}'.repeat(MAX_TEMPLATE_TAGS))).not.toThrow();
  });
  it('refuses a template whose output would outgrow the memory limit with the longest lead values', () => {
    expect(() => assertKnownMergeTags(`{{ company | replace: "x", "${'y'.repeat(3000)}" }}`)).toThrowError(/memory/);
  });
  it('stops a render over the memory limit, whatever the lead holds', () => {
    const long = { ...context, custom: { notes: 'x'.repeat(2000) } };
    expect(() => renderTemplate(`{{ custom.notes | replace: "", "${'y'.repeat(90_000)}" }}`, long)).toThrowError(/memory/);
  });
  it('looks up only the fields a lead has, never what every object inherits', () => {
    expect(() => assertKnownMergeTags('{{ custom.constructor }}')).toThrowError(/unknown merge tag/);
    expect(missingMergeFields(['custom.toString'], context)).toEqual(['custom.toString']);
    expect(isCustomFieldName('__proto__')).toBe(false);
    expect(isCustomFieldName('plan_2')).toBe(true);
  });
});

describe('API keys', () => {
  it('round-trip through their prefix and a hash of the secret', () => {
    const { key, prefix, secretHash } = generateApiKey();
    const parsed = parseApiKey(key)!;
    expect(parsed.prefix).toBe(prefix);
    expect(secretMatches(parsed.secret, secretHash)).toBe(true);
    expect(secretMatches(parsed.secret.slice(0, -1) + 'x', secretHash)).toBe(parsed.secret.endsWith('x'));
    expect(secretHash).not.toContain(parsed.secret);
  });
});
