import { describe, expect, it } from 'vitest';
import { enrolRefusal, sendBlocker } from '../domain/enrolment-rules.js';
import { generateApiKey, parseApiKey, secretMatches } from '../domain/api-key.js';
import { assertKnownMergeTags, missingMergeFields, renderTemplate, requiredMergeFields, type MergeContext } from '../domain/merge-fields.js';

const eligible = {
  leadEmail: 'a@example.com',
  leadUnsubscribed: false,
  leadBounced: false,
  activeInThisSequence: false,
  activeInOtherSequence: false,
  allowParallelEnrolment: false,
  missingFields: [],
};

describe('who may be enrolled', () => {
  it('anyone with an address and nothing against them', () => {
    expect(enrolRefusal(eligible)).toBeNull();
  });
  it.each([
    [{ leadEmail: null }, 'no_email'],
    [{ leadUnsubscribed: true }, 'unsubscribed'],
    [{ leadBounced: true }, 'bounced'],
    [{ activeInThisSequence: true }, 'already_enrolled'],
    [{ activeInOtherSequence: true }, 'active_in_other_sequence'],
    [{ missingFields: ['company'] }, 'missing_merge_fields'],
  ])('not %o: %s', (change, reason) => {
    expect(enrolRefusal({ ...eligible, ...change })).toBe(reason);
  });
  it('a lead active elsewhere when the account allows parallel enrolment', () => {
    expect(enrolRefusal({ ...eligible, activeInOtherSequence: true, allowParallelEnrolment: true })).toBeNull();
  });
});

describe('whether a due email may go', () => {
  const ready = {
    enrolmentStatus: 'active' as const,
    sequenceStatus: 'active' as const,
    onReply: 'stop' as const,
    leadEmail: 'a@example.com',
    leadUnsubscribedAt: null,
    leadBouncedAt: null,
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
    expect(sendBlocker({ ...ready, leadUnsubscribedAt: new Date() })?.status).toBe('unsubscribed');
    expect(sendBlocker({ ...ready, leadBouncedAt: new Date() })?.status).toBe('bounced');
    expect(sendBlocker({ ...ready, sequenceStatus: 'paused' })?.status).toBe('paused');
    expect(sendBlocker({ ...ready, sequenceStatus: 'archived' })?.status).toBe('stopped');
    expect(sendBlocker({ ...ready, enrolmentStatus: 'stopped' })?.status).toBe('stopped');
  });
});

const context: MergeContext = {
  lead: { first_name: 'Ada', last_name: 'Lovelace', full_name: 'Ada Lovelace', email: 'ada@example.com', company: '', title: '', phone: '' },
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
    expect(requiredMergeFields('{{ first_name | default: "there" }} at {{ company }}, {{ custom.plan }}')).toEqual(['company', 'custom.plan']);
  });
  it('name the fields a lead lacks', () => {
    expect(missingMergeFields(['company', 'first_name', 'custom.plan', 'custom.size'], context)).toEqual(['company', 'custom.size']);
  });
  it('escape lead values in HTML and fall back to defaults', () => {
    const evil = { ...context, lead: { ...context.lead, first_name: '<script>alert(1)</script>' } };
    expect(renderTemplate('Hi {{ first_name }}', evil, { escapeHtml: true })).toBe('Hi &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(renderTemplate('at {{ company | default: "your company" }}', context)).toBe('at your company');
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
