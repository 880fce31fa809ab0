import { describe, expect, it } from 'vitest';
import { fromHeader, providerTags, roundRobinSenders, testRecipient } from '../../domain/sender.js';

// domain/sender.ts: who an email says it comes from, the tags the provider gets, and where a
// test copy may go.

const PLATFORM = 'sequences@platform.test';
const account = (overrides: Partial<Parameters<typeof fromHeader>[0]> = {}): Parameters<typeof fromHeader>[0] => ({
  name: 'Acme Ltd',
  senderName: 'Ann Smith',
  senderEmail: null,
  sendingDomain: null,
  sendingDomainVerifiedAt: null,
  ...overrides,
});
const verified = new Date('2026-01-01T00:00:00Z');

describe('the From line', () => {
  it('is the sender’s name at the platform’s address when the account has no sending domain', () => {
    expect(fromHeader(account(), PLATFORM)).toBe(`"Ann Smith" <${PLATFORM}>`);
  });

  it('names the account when the sender has no name', () => {
    expect(fromHeader(account({ senderName: '' }), PLATFORM)).toBe(`"Acme Ltd" <${PLATFORM}>`);
  });

  it('is the platform’s address while the sending domain is not verified, even with a sender email on it', () => {
    expect(fromHeader(account({ sendingDomain: 'acme.test', senderEmail: 'ann@acme.test' }), PLATFORM)).toBe(`"Ann Smith" <${PLATFORM}>`);
  });

  it('is the sender’s own address when it is on the verified domain, compared case-insensitively', () => {
    expect(
      fromHeader(account({ sendingDomain: 'Acme.TEST', senderEmail: 'Ann@ACME.test', sendingDomainVerifiedAt: verified }), PLATFORM),
    ).toBe('"Ann Smith" <ann@acme.test>');
  });

  it.each([
    ['on another domain', 'ann@gmail.com'],
    ['on a subdomain of it', 'ann@mail.acme.test'],
    ['on a domain that ends like it', 'ann@notacme.test'],
    ['missing', null],
  ])('is an address made from the name at the verified domain when the sender email is %s', (_what, senderEmail) => {
    expect(fromHeader(account({ sendingDomain: 'acme.test', senderEmail, sendingDomainVerifiedAt: verified }), PLATFORM)).toBe(
      '"Ann Smith" <ann.smith@acme.test>',
    );
  });

  it('makes the address from the name without its accents and punctuation', () => {
    const at = (senderName: string) =>
      fromHeader(account({ senderName, sendingDomain: 'acme.test', sendingDomainVerifiedAt: verified }), PLATFORM);
    expect(at('José')).toBe('"José" <jose@acme.test>');
    expect(at("  O'Brien & Co.  ")).toBe(`"O'Brien & Co." <o.brien.co@acme.test>`);
  });

  it('uses hello@ the domain when nothing of the name can make an address', () => {
    expect(fromHeader(account({ senderName: '山田', sendingDomain: 'acme.test', sendingDomainVerifiedAt: verified }), PLATFORM)).toBe(
      '"山田" <hello@acme.test>',
    );
  });

  it('is the bare address when nothing of the name is left', () => {
    expect(fromHeader(account({ senderName: ' <> ', name: '' }), PLATFORM)).toBe(PLATFORM);
  });

  it('cannot be broken out of by a hostile name: no quote, backslash, angle bracket or line break survives', () => {
    const from = fromHeader(account({ senderName: 'Ann\\" <evil@evil.test>\r\nBcc: victim@acme.test\n"' }), PLATFORM);
    expect(from).toBe(`"Ann evil@evil.testBcc: victim@acme.test" <${PLATFORM}>`);
    expect(from.match(/"/g)).toHaveLength(2);
    expect(from.match(/</g)).toHaveLength(1);
    expect(from).not.toMatch(/[\r\n\\]/);
  });
});

describe('the From line, made from names of every kind', () => {
  const at = (senderName: string, name = 'Acme Ltd') =>
    fromHeader(account({ senderName, name, sendingDomain: 'acme.test', sendingDomainVerifiedAt: verified }), PLATFORM);
  const localOf = (from: string) => /<([^@<>]*)@acme\.test>$/.exec(from)?.[1];

  it('drops the accents of the name rather than turning them into dots', () => {
    expect(at('Zoë Müller')).toBe('"Zoë Müller" <zoe.muller@acme.test>');
    expect(at('François Lefèvre-Dürr')).toBe('"François Lefèvre-Dürr" <francois.lefevre.durr@acme.test>');
    // composed or decomposed, the same address
    expect(localOf(at('Zoe\u0308 Mu\u0308ller'))).toBe('zoe.muller');
  });

  it('spells out the Latin letters that have no accent to drop', () => {
    expect(localOf(at('Jürgen Straße'))).toBe('jurgen.strasse');
    expect(localOf(at('Søren Łukasz Æsir'))).toBe('soren.lukasz.aesir');
  });

  it('makes a local part of at most 64 characters (RFC 5321), not ending in a dot', () => {
    const long = localOf(at('Annabelle '.repeat(20)))!;
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(/^[a-z0-9]+(\.[a-z0-9]+)*$/);
    expect(localOf(at(`${'a'.repeat(63)} b`))).toBe('a'.repeat(63));
    expect(localOf(at('x'.repeat(500)))).toBe('x'.repeat(64));
  });

  it.each([
    ['NUL', '\u0000'],
    ['a C0 control', '\u0007'],
    ['a tab', '\t'],
    ['DEL', '\u007f'],
    ['NEL (U+0085)', '\u0085'],
    ['another C1 control', '\u009b'],
    ['the line separator U+2028', '\u2028'],
    ['the paragraph separator U+2029', '\u2029'],
    ['a right-to-left override', '\u202e'],
    ['a bidirectional isolate', '\u2067'],
    ['an unpaired surrogate', '\ud800'],
  ])('keeps %s out of the display name', (_what, character) => {
    const from = at(`Ann${character}Smith${character}`);
    expect(from).toBe('"AnnSmith" <annsmith@acme.test>');
  });

  it('keeps what a name may hold: letters of any script, emoji (joined ones too), spaces', () => {
    expect(at('山田 太郎 👩‍💻')).toBe('"山田 太郎 👩‍💻" <hello@acme.test>');
  });

  it('is the bare address when the name is nothing but controls and separators', () => {
    expect(at('\u0000\u0085\u2028\u2029', '')).toBe('hello@acme.test');
  });
});

describe('the tags the provider gets', () => {
  it('are the ids that are set, by name', () => {
    expect(providerTags({ account_id: 'a1', sequence_id: null, step_id: undefined, lead_id: '', enrolment_id: 'e-1' })).toEqual([
      { name: 'account_id', value: 'a1' },
      { name: 'enrolment_id', value: 'e-1' },
    ]);
  });

  it('have every character but ASCII letters, digits, _ and - replaced by _', () => {
    expect(providerTags({ id: 'a.b@c d/é\u0000😀' })).toEqual([{ name: 'id', value: 'a_b_c_d_____' }]);
  });

  it('keep a UUID as it is', () => {
    expect(providerTags({ id: '0b8f7a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c' })[0]!.value).toBe('0b8f7a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c');
  });

  it('are none when no id is set', () => {
    expect(providerTags({})).toEqual([]);
  });
});

describe('where a test copy may go', () => {
  const confirmed = { email: 'Ann@Acme.test', emailConfirmedAt: verified };

  it('is the confirmed sender address, lowercased, when no recipient is asked for', () => {
    expect(testRecipient(confirmed)).toEqual({ to: 'ann@acme.test' });
  });

  it('is that address when it is the one asked for, in any case', () => {
    expect(testRecipient(confirmed, 'ANN@acme.TEST')).toEqual({ to: 'ann@acme.test' });
  });

  it.each([
    ['another address', 'victim@elsewhere.test'],
    ['a longer domain', 'ann@acme.test.evil.test'],
    ['the address with spaces', ' ann@acme.test '],
    ['an empty string', ''],
  ])('is refused for %s, naming the one allowed', (_what, requested) => {
    expect(testRecipient(confirmed, requested)).toEqual({
      refused: 'test_recipient_not_allowed',
      message: "Test copies go only to the sender's confirmed address (ann@acme.test)",
    });
  });

  it.each([
    ['no sender address', { email: null, emailConfirmedAt: verified }],
    ['an empty sender address', { email: '', emailConfirmedAt: verified }],
    ['a sender address not confirmed', { email: 'ann@acme.test', emailConfirmedAt: null }],
    ['no sender at all', null],
  ])('is refused while the sender has %s, even for that address', (_what, sender) => {
    const answer = testRecipient(sender, 'ann@acme.test');
    expect(answer).toMatchObject({ refused: 'sender_email_unconfirmed' });
    expect('to' in answer).toBe(false);
  });
});

describe('round-robin senders', () => {
  const [a, b, c] = ['sender-a', 'sender-b', 'sender-c'];

  it('give the listed senders in turn, in request order', () => {
    const got = roundRobinSenders(['l1', 'l2', 'l3', 'l4', 'l5'], [a, b, c], new Map());
    expect([...got.values()]).toEqual([a, b, c, a, b]);
  });

  it('keep a lead with the listed sender of its latest enrolment, and the turn goes on for the others', () => {
    const got = roundRobinSenders(['l1', 'l2', 'l3'], [a, b], new Map([['l2', b]]));
    expect(Object.fromEntries(got)).toEqual({ l1: a, l2: b, l3: b });
  });

  it('do not keep a previous sender that is not in the list', () => {
    const got = roundRobinSenders(['l1'], [a, b], new Map([['l1', c]]));
    expect(got.get('l1')).toBe(a);
  });

  it('give a lead listed twice one sender, and split 1,000 leads evenly', () => {
    expect(roundRobinSenders(['l1', 'l1', 'l2'], [a, b], new Map()).size).toBe(2);
    const leads = Array.from({ length: 1000 }, (_, i) => `l${i}`);
    const counts = new Map<string, number>();
    for (const sender of roundRobinSenders(leads, [a, b, c], new Map()).values()) counts.set(sender, (counts.get(sender) ?? 0) + 1);
    expect([...counts.values()].sort()).toEqual([333, 333, 334]);
  });
});
