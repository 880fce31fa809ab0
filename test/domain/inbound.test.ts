import { describe, expect, it } from 'vitest';
import {
  autoReplySignal,
  boundedHeaders,
  boundedRecipients,
  boundMimeHead,
  forwardSubject,
  INBOUND_LIMITS,
  referencedMessageIds,
  replyTokenFrom,
  senderAddress,
  senderRelation,
  storableJson,
  unsubscribeTokenFromMailto,
} from '../../domain/inbound.js';
import { unsubscribeToken, verifyUnsubscribeToken } from '../../domain/unsubscribe-token.js';

// The rules of domain/inbound.ts that decide where an email coming back belongs and whether a
// person wrote it. (The cleaning of what is stored is in test/inbound-rules.test.ts.)

const DOMAIN = 'reply.example.com';
const ID = '0b8f7a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c';
const OTHER_ID = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';

describe('the reply address among the recipients', () => {
  it('gives the token of r-<token>@ the inbound domain, wherever it is in the list', () => {
    expect(replyTokenFrom(['ann@acme.test', `r-4f2a9c@${DOMAIN}`, 'bob@acme.test'], DOMAIN)).toBe('4f2a9c');
  });

  it('is read from a display form, and case-insensitively (mail systems lowercase or uppercase addresses)', () => {
    expect(replyTokenFrom([`Acme Replies <R-4F2A9C@Reply.Example.COM>`], 'REPLY.example.com')).toBe('4f2a9c');
  });

  it('takes the first reply address when there are two', () => {
    expect(replyTokenFrom([`r-first@${DOMAIN}`, `r-second@${DOMAIN}`], DOMAIN)).toBe('first');
  });

  it.each([
    ['another domain', `r-4f2a9c@acme.test`],
    ['a subdomain of the inbound domain', `r-4f2a9c@evil.${DOMAIN}`],
    ['a domain that only starts like it', `r-4f2a9c@${DOMAIN}.evil.test`],
    ['an empty token', `r-@${DOMAIN}`],
    ['a local part without the r- prefix', `reply-4f2a9c@${DOMAIN}`],
    ['the token in the display name only', `"r-4f2a9c@${DOMAIN}" <mallory@evil.test>`],
    ['no address at all', 'undisclosed-recipients:;'],
    ['an empty string', ''],
  ])('is none for %s', (_what, recipient) => {
    expect(replyTokenFrom([recipient], DOMAIN)).toBeNull();
  });

  it('is none for no recipients', () => {
    expect(replyTokenFrom([], DOMAIN)).toBeNull();
  });
});

describe('an unsubscribe by email (the List-Unsubscribe mailto link)', () => {
  const secret = 'test-secret';
  const token = unsubscribeToken(secret, ID);

  it('gives the token in the subject of an email to unsubscribe@ the inbound domain, and it verifies', () => {
    const found = unsubscribeTokenFromMailto([`unsubscribe@${DOMAIN}`], `unsubscribe ${token}`, DOMAIN);
    expect(found).toBe(token);
    expect(verifyUnsubscribeToken(secret, found!)).toBe(ID);
  });

  it('finds the token after a Re:, after several spaces, and in a display form of the address', () => {
    expect(unsubscribeTokenFromMailto([`List <Unsubscribe@REPLY.example.com>`], `Re: UNSUBSCRIBE   ${token}`, DOMAIN)).toBe(token);
  });

  it('stops the token at the first character that is not base64url', () => {
    expect(unsubscribeTokenFromMailto([`unsubscribe@${DOMAIN}`], `unsubscribe ${ID}.abc_-D9"><script>`, DOMAIN)).toBe(`${ID}.abc_-D9`);
  });

  it.each([
    ['sent to a reply address', [`r-4f2a9c@${DOMAIN}`]],
    ['sent to unsubscribe@ another domain', ['unsubscribe@evil.test']],
    ['sent to unsubscribe@ a subdomain', [`unsubscribe@x.${DOMAIN}`]],
    ['sent to no one', []],
  ])('is none when %s, whatever the subject', (_what, to) => {
    expect(unsubscribeTokenFromMailto(to, `unsubscribe ${token}`, DOMAIN)).toBeNull();
  });

  it.each([
    ['the word alone', 'unsubscribe'],
    ['a token without its signature', `unsubscribe ${ID}`],
    ['an id that is no UUID', 'unsubscribe not-a-uuid-at-all-but-36-characters.sig'],
    ['the token without the word', token],
    ['an empty subject', ''],
  ])('is none for %s in the subject', (_what, subject) => {
    expect(unsubscribeTokenFromMailto([`unsubscribe@${DOMAIN}`], subject, DOMAIN)).toBeNull();
  });
});

describe('the emails of ours a reply refers to (In-Reply-To, References)', () => {
  it('are the ids of our Message-IDs in both headers, in order', () => {
    expect(referencedMessageIds({ 'In-Reply-To': `<${ID}@${DOMAIN}>`, References: `<${OTHER_ID}@${DOMAIN}>` }, DOMAIN)).toEqual([
      ID,
      OTHER_ID,
    ]);
  });

  it('are read whatever the case of the header names and of the ids', () => {
    expect(referencedMessageIds({ 'IN-REPLY-TO': `<${ID.toUpperCase()}@REPLY.Example.com>` }, DOMAIN)).toEqual([ID]);
  });

  it('leave out other domains’ ids and ids that are no UUID', () => {
    const references = [
      `<${ID}@acme.test>`,
      `<${ID}@${DOMAIN}.evil.test>`,
      `<../../etc/passwd@${DOMAIN}>`,
      `<${ID}x@${DOMAIN}>`,
      `<@${DOMAIN}>`,
      `<${OTHER_ID}@${DOMAIN}>`,
    ].join(' ');
    expect(referencedMessageIds({ references }, DOMAIN)).toEqual([OTHER_ID]);
  });

  it('are none without the headers, or with empty ones', () => {
    expect(referencedMessageIds({}, DOMAIN)).toEqual([]);
    expect(referencedMessageIds({ 'in-reply-to': undefined, references: '' }, DOMAIN)).toEqual([]);
    expect(referencedMessageIds({ references: `${ID}@${DOMAIN}` }, DOMAIN)).toEqual([]); // no angle brackets
  });
});

// autoReplySignal is the auto-reply rule the classification reads first (domain/reply-classification.ts).
const isAutoReply = (headers: Record<string, string | undefined>, subject: string) => autoReplySignal(headers, subject) !== null;

describe('an auto-reply (out-of-office, auto-responder)', () => {
  it.each([
    [{ 'Auto-Submitted': 'auto-replied' }],
    [{ 'auto-submitted': 'Auto-Generated' }],
    [{ 'X-Autoreply': 'yes' }],
    [{ 'X-AUTORESPOND': '' }],
    [{ 'X-AutoResponder': 'on' }],
    [{ 'X-Auto-Response-Suppress': 'All' }],
    [{ 'X-Auto-Response-Suppress': 'DR, OOF' }],
    [{ Precedence: 'bulk' }],
    [{ precedence: ' Junk ' }],
    [{ Precedence: 'list' }],
    [{ Precedence: 'auto_reply' }],
    [{ 'Auto-Submitted': 'auto-replied; owner-email="ann@acme.test"' }],
    [{ 'Auto-Submitted': 'auto-generated (no; not a person)' }],
  ])('is told by its headers: %o', (headers) => {
    expect(isAutoReply(headers, 'Re: Step 1')).toBe(true);
  });

  it.each([
    [{}],
    [{ 'Auto-Submitted': 'no' }],
    [{ 'Auto-Submitted': ' No ' }],
    [{ 'X-Auto-Response-Suppress': 'DR' }],
    [{ Precedence: 'first-class' }],
    [{ 'Auto-Submitted': undefined }],
    // RFC 3834 allows parameters and comments after the keyword
    [{ 'Auto-Submitted': 'no; x=y' }],
    [{ 'Auto-Submitted': 'No ; reason="person"' }],
    [{ 'Auto-Submitted': 'no (a person wrote this; really)' }],
    [{ 'Auto-Submitted': '(comment) no' }],
  ])('is not a reply with headers %o and a person’s subject', (headers) => {
    expect(isAutoReply(headers, 'Re: Step 1')).toBe(false);
  });

  it.each([
    'Automatic reply: Step 1',
    'Auto-Reply: Step 1',
    'Autoreply',
    'auto reply',
    'Out of Office: back Monday',
    'Out of the office',
    'Abwesenheitsnotiz: Step 1',
    'Réponse automatique : Step 1',
    'Autosvar: Step 1',
    'Away from my desk',
    '  Automatic reply: leading spaces',
  ])('is told by its subject: %s', (subject) => {
    expect(isAutoReply({}, subject)).toBe(true);
  });

  it.each(['Re: Step 1', 'Re: Automatic reply: Step 1', 'I will be out of office next week', 'Autonomous replies', ''])(
    'is not told by the subject %j',
    (subject) => {
      expect(isAutoReply({}, subject)).toBe(false);
    },
  );
});

describe('the recipients as kept', () => {
  it('are the strings among them, each on one bounded line', () => {
    expect(boundedRecipients(['ann@acme.test', 42, null, { address: 'x@y' }, 'bob@acme.test\r\nBcc: eve@evil.test'])).toEqual([
      'ann@acme.test',
      'bob@acme.test Bcc: eve@evil.test',
    ]);
  });

  it(`are at most ${INBOUND_LIMITS.recipients}, however many come`, () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `r${i}@acme.test`);
    const kept = boundedRecipients(many);
    expect(kept).toHaveLength(INBOUND_LIMITS.recipients);
    expect(kept.at(-1)).toBe(`r${INBOUND_LIMITS.recipients - 1}@acme.test`);
  });

  it('are each cut to four address lengths', () => {
    expect(boundedRecipients(['a'.repeat(100_000)])[0]).toHaveLength(4 * INBOUND_LIMITS.address);
  });
});

describe('hostile input to the storing rules', () => {
  it('a header named __proto__ is dropped and pollutes nothing', () => {
    const kept = boundedHeaders(JSON.parse('{"__proto__": {"polluted": "yes"}, "Subject": "hi"}'));
    expect(kept).toEqual({ subject: 'hi' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('header values that are no strings become one line of text; a list of values at most 20', () => {
    const kept = boundedHeaders({ 'X-Number': 7, 'X-Null': null, 'X-List': Array.from({ length: 50 }, (_, i) => `v${i}`) });
    expect(kept['x-number']).toBe('7');
    expect(kept['x-null']).toBe('');
    expect(kept['x-list']!.split(' ')).toHaveLength(20);
  });

  it('headers that are no object or list are none', () => {
    expect([boundedHeaders(null), boundedHeaders('Subject: hi'), boundedHeaders(42)]).toEqual([{}, {}, {}]);
  });

  it('JSON nested ten thousand deep is cut at its depth, without overflowing the stack', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    let kept = storableJson(deep) as { d: unknown } | null;
    let depth = 0;
    while (kept && typeof kept === 'object') {
      kept = kept.d as { d: unknown } | null;
      depth++;
    }
    expect(depth).toBe(32);
    expect(kept).toBeNull();
  });

  it('a sender without an address inside its angle brackets, or no string at all, is no address', () => {
    expect([senderAddress('Mallory <>'), senderAddress(42), senderAddress(undefined)]).toEqual(['', '', '']);
  });

  it('a header named like an Object.prototype member (constructor, toString, hasOwnProperty) is kept', () => {
    const kept = boundedHeaders({ constructor: 'a', toString: 'b', hasOwnProperty: 'c', valueOf: 'd', Subject: 'hi' });
    expect(kept).toEqual({ constructor: 'a', tostring: 'b', hasownproperty: 'c', valueof: 'd', subject: 'hi' });
    expect(boundedHeaders([{ key: 'Constructor', value: 'x' }])).toEqual({ constructor: 'x' });
  });

  it(`a forward's subject is at most ${INBOUND_LIMITS.subject} characters, Re: included, and cuts no surrogate pair in half`, () => {
    expect(forwardSubject('s'.repeat(5_000))).toBe(`Re: ${'s'.repeat(INBOUND_LIMITS.subject - 4)}`);
    expect(forwardSubject(`Re: ${'s'.repeat(5_000)}`)).toHaveLength(INBOUND_LIMITS.subject);
    const emoji = forwardSubject('😀'.repeat(1_000));
    expect(emoji.length).toBeLessThanOrEqual(INBOUND_LIMITS.subject);
    expect(emoji).not.toMatch(/\p{Cs}/u);
  });

  it('a forward of a subject that already says Fwd: gets Re: in front of it', () => {
    expect(forwardSubject('Fwd: Step 1')).toBe('Re: Fwd: Step 1');
    expect(forwardSubject('re:Step 1')).toBe('re:Step 1');
  });
});

describe('the header block of a raw message (edge cases)', () => {
  it('a message without a blank line is all header, and is left as it came when within bounds', () => {
    const raw = Buffer.from('Subject: x\r\nFrom: a@b.test');
    expect(boundMimeHead(raw)).toEqual({ message: raw, dropped: 0, cut: 0 });
  });

  it('ends at the first blank line however it is written (a bare LF one before a CRLF one)', () => {
    const { message } = boundMimeHead(Buffer.from('Subject: a\n\nbody\r\n\r\nContent-Type: text/html'), { headOnly: true });
    expect(message.toString('latin1')).toBe('Subject: a\r\n\r\n');
  });

  it('lines that are no header field (no colon) are dropped when the head is rebuilt', () => {
    const { message } = boundMimeHead(Buffer.from('Subject: a\r\nnot a field\r\nFrom: b@c.test\r\n\r\nbody'), { headOnly: true });
    expect(message.toString('latin1')).toBe('Subject: a\r\nFrom: b@c.test\r\n\r\n');
  });
});

describe('the sender address: the one mailbox of From, never its display name', () => {
  const LEAD = 'ann@acme.test';

  it.each([
    ['a quoted display name holding the lead’s address', '"Ann <ann@acme.test>" <mallory@evil.test>'],
    ['an escaped quote inside the quoted name', '"Ann \\" <ann@acme.test>" <mallory@evil.test>'],
    ['a backslash escaping the closing quote', '"Ann \\\\" <mallory@evil.test>'],
    ['a comment holding the lead’s address', '(Ann <ann@acme.test>) <mallory@evil.test>'],
    ['nested comments', '(a (b <ann@acme.test>) c) <mallory@evil.test>'],
    ['an escaped parenthesis in a comment', '(a \\) <ann@acme.test>) <mallory@evil.test>'],
    ['a comment after a bare address', 'mallory@evil.test (Ann <ann@acme.test>)'],
    ['an encoded-word display name that decodes to the lead’s address', '=?utf-8?B?QW5uIDxhbm5AYWNtZS50ZXN0Pg==?= <mallory@evil.test>'],
    ['a quoted local part holding the lead’s address', '"ann@acme.test"@evil.test'],
    ['a quoted local part holding a closing bracket', '<"ann@acme.test>"@evil.test>'],
  ])('is the real address for %s', (_what, from) => {
    expect(senderAddress(from)).not.toBe(LEAD);
    expect(senderRelation(from, LEAD)).toBe('other');
  });

  it('is mallory’s address, not the one in the quoted or commented display name', () => {
    expect(senderAddress('"Ann <ann@acme.test>" <Mallory@Evil.test>')).toBe('mallory@evil.test');
    expect(senderAddress('"Ann \\" <ann@acme.test>" <mallory@evil.test>')).toBe('mallory@evil.test');
    expect(senderAddress('(a (b <ann@acme.test>) c) <mallory@evil.test>')).toBe('mallory@evil.test');
    expect(senderAddress('mallory@evil.test (Ann <ann@acme.test>)')).toBe('mallory@evil.test');
  });

  it.each([
    ['a plain display name', 'Ann Smith <Ann@Acme.test>'],
    ['a quoted one', '"Smith, Ann" <ann@acme.test>'],
    ['a quoted one with an escaped quote', '"Ann \\"the lead\\" Smith" <ann@acme.test>'],
    ['a comment after the brackets', 'Ann <ann@acme.test> (work)'],
    ['an encoded-word name', '=?utf-8?Q?Ann_M=C3=BCller?= <ann@acme.test>'],
    ['a bare address', 'ann@acme.test'],
    ['a bare address with a comment', 'ann@acme.test (Ann Smith)'],
    ['brackets alone', '<ann@acme.test>'],
    ['an unquoted comma in the name (sloppy, but common)', 'Smith, Ann <ann@acme.test>'],
    ['a folded header', 'Ann Smith\r\n <ann@acme.test>'],
  ])('is the lead’s for %s', (_what, from) => {
    expect(senderAddress(from)).toBe(LEAD);
    expect(senderRelation(from, LEAD)).toBe('lead');
  });

  it.each([
    ['two mailboxes, the lead’s first', 'Ann <ann@acme.test>, Mallory <mallory@evil.test>'],
    ['two mailboxes, the lead’s last', 'Mallory <mallory@evil.test>, Ann <ann@acme.test>'],
    ['two bare addresses', 'mallory@evil.test,ann@acme.test'],
    ['two angle-addrs in one mailbox', '<mallory@evil.test> <ann@acme.test>'],
    ['two angle-addrs, the lead’s first', 'Ann <ann@acme.test> <mallory@evil.test>'],
    ['text after the angle-addr', '<mallory@evil.test> ann@acme.test'],
    ['two addresses without brackets', 'mallory@evil.test ann@acme.test'],
    ['a name and an address without brackets', 'Ann ann@acme.test'],
    ['a single-quoted “name” (no quoting in RFC 5322)', "'Ann <ann@acme.test>' <mallory@evil.test>"],
    ['a group', 'Friends: ann@acme.test;'],
    ['an unterminated quoted string', '"Ann <ann@acme.test>'],
    ['an unterminated comment', '(Ann <ann@acme.test>'],
    ['an unclosed angle-addr', 'Ann <ann@acme.test'],
    ['a stray closing bracket', 'ann@acme.test>'],
    ['an encoded word as the address', '<=?utf-8?B?YW5uQGFjbWUudGVzdA==?=>'],
    ['no address at all', 'not an address'],
    ['undisclosed recipients', 'undisclosed-recipients:;'],
  ])('is none for %s', (_what, from) => {
    expect(senderAddress(from)).toBe('');
    expect(senderRelation(from, LEAD)).toBe('other');
  });

  it(`is none for a field longer than ${4 * INBOUND_LIMITS.address} characters, even with the lead’s address at its end`, () => {
    expect(senderAddress(`"${'a'.repeat(2_000)}" <ann@acme.test>`)).toBe('');
    expect(senderAddress(`"${'a'.repeat(4 * INBOUND_LIMITS.address - 20)}" <ann@acme.test>`)).toBe(LEAD);
  });

  it('reads a hostile megabyte in bounded time, whatever it is made of', () => {
    const started = performance.now();
    for (const unit of ['"', '(', '<', '\\', 'a@', '"a",', '(<', '" <a@b.test> "', ' ']) {
      const from = `${unit.repeat(Math.ceil((1024 * 1024) / unit.length))} <ann@acme.test>`;
      expect(senderRelation(from, LEAD)).toBe('other');
    }
    for (const unit of ['"', '(', '<', '\\', 'a@', '"a",', '(<', '" ', ' ']) {
      senderAddress(unit.repeat(Math.floor((4 * INBOUND_LIMITS.address) / unit.length)));
    }
    expect(performance.now() - started).toBeLessThan(500);
  });
});
