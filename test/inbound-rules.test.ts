import { describe, expect, it } from 'vitest';
import * as inboundService from '../api/services/inbound.js';
import { isMachineClass, MACHINE_CLASSES } from '../domain/inbound-policy.js';
import {
  boundedHeaders,
  boundMimeHead,
  MIME_HEAD_SCAN_BYTES,
  forwardSubject,
  INBOUND_LIMITS,
  senderAddress,
  senderRelation,
  storableJson,
  storableLine,
  storableText,
} from '../domain/inbound.js';

describe('the text of an inbound email, as stored', () => {
  it('loses NUL, unpaired surrogates and control characters, and keeps tabs, line breaks and emoji', () => {
    expect(storableText('a\u0000b\ud800c\udfffd\u0007e\u007f\tf\r\ng😀', 100)).toBe('abcde\tf\r\ng😀');
  });
  it('is cut to its limit without leaving half a surrogate pair', () => {
    expect(storableText('ab😀', 3)).toBe('ab');
    expect(storableText('x'.repeat(10), 4)).toBe('xxxx');
  });
  it('is empty for anything that is not a string', () => {
    expect([storableText(undefined, 5), storableText(null, 5), storableText(42, 5)]).toEqual(['', '', '']);
  });
});

describe('a one-line field (subject, header value)', () => {
  it('has every line break and control character turned into one space, and is trimmed', () => {
    expect(storableLine(' Re: hi\r\nBcc: x@evil.test\u0000\u0085\u2028end ', 100)).toBe('Re: hi Bcc: x@evil.test end');
  });
  it('is cut to its limit, even from a megabyte', () => {
    expect(storableLine('s'.repeat(1024 * 1024), INBOUND_LIMITS.subject)).toHaveLength(998);
  });
});

describe('the sender address', () => {
  it('is the bare address, lowercased', () => {
    expect(senderAddress('Mallory <Mallory@Evil.TEST>')).toBe('mallory@evil.test');
  });
  it('is empty when longer than an address can be', () => {
    expect(senderAddress(`${'a'.repeat(400)}@x.test`)).toBe('');
  });
});

describe('JSON kept as received (jsonb)', () => {
  it('loses what PostgreSQL refuses in strings and keys, and nesting beyond its depth', () => {
    expect(storableJson({ 'k\u0000': ['v\u0000', '\ud800', 1, null, { deep: { deeper: true } }] }, 3)).toEqual({
      k: ['v', '', 1, null, { deep: null }],
    });
  });
});

describe('the headers the rules read', () => {
  it('are at most 100, names lowercased, values on one bounded line, the first value of a name kept', () => {
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`X-H${i}`, `v${i}`]));
    const kept = boundedHeaders({ 'Auto-Submitted': 'auto-replied\r\nX: y', 'x-big': 'a'.repeat(100_000), ...many });
    expect(Object.keys(kept)).toHaveLength(100);
    expect(kept['auto-submitted']).toBe('auto-replied X: y');
    expect(kept['x-big']).toHaveLength(INBOUND_LIMITS.headerValue);
  });
  it('may come as a list of key/value pairs', () => {
    expect(
      boundedHeaders([
        { key: 'Precedence', value: 'bulk' },
        { name: 'In-Reply-To', value: '<a@b>' },
      ]),
    ).toEqual({ precedence: 'bulk', 'in-reply-to': '<a@b>' });
  });
});

describe('the header block of a raw MIME message, before it is parsed', () => {
  const head = (lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\nbody`, 'latin1');
  it('is left as it came when within bounds', () => {
    const raw = head(['From: a@b.test', 'Subject: hi']);
    expect(boundMimeHead(raw).message).toBe(raw);
  });
  it('has a field over 8 KB cut', () => {
    const { message, cut } = boundMimeHead(head(['From: a@b.test', `X-Big: ${'a'.repeat(1024 * 1024)}`]));
    expect(cut).toBe(1);
    expect(message.length).toBeLessThan(9_000);
    expect(message.toString('latin1')).toMatch(/\r\n\r\nbody$/);
  });
  it('keeps the essential fields (addresses, subject, ids, MIME structure) before any others, at most 100', () => {
    const junk = Array.from({ length: 5000 }, (_, i) => `X-Junk-${i}: v`);
    const { message, dropped } = boundMimeHead(
      head([...junk, 'From: a@b.test', 'To: r-x@reply.example.com', 'Subject: hi', 'Content-Type: text/plain']),
    );
    const fields = message.toString('latin1').split('\r\n\r\n')[0]!.split('\r\n');
    expect(fields).toHaveLength(100);
    expect(dropped).toBe(4904);
    expect(fields.slice(-4)).toEqual(['From: a@b.test', 'To: r-x@reply.example.com', 'Subject: hi', 'Content-Type: text/plain']);
  });
  it(`reads no more than the first ${MIME_HEAD_SCAN_BYTES / 1024} KB of a header block, however long it is`, () => {
    const flood = Array.from({ length: (24 * 1024 * 1024) / 5 }, () => 'X:y');
    const { message, dropped } = boundMimeHead(head(['To: r-x@reply.example.com', ...flood, 'Subject: past the scan']));
    const fields = message.toString('latin1').split('\r\n\r\n')[0]!.split('\r\n');
    expect(fields[0]).toBe('To: r-x@reply.example.com');
    expect(fields).toHaveLength(100);
    expect(fields).not.toContain('Subject: past the scan');
    // Only what was scanned is counted field by field; the rest is one dropped block.
    expect(dropped).toBeLessThan(MIME_HEAD_SCAN_BYTES / 4);
  });
  it('keeps folded fields whole, and reads a bare-LF message', () => {
    const raw = Buffer.from('Subject: a\n b\nFrom: a@b.test\n\nbody');
    expect(boundMimeHead(raw).message).toBe(raw);
  });
  it('alone (headOnly) drops the body and the Content-* fields', () => {
    const { message } = boundMimeHead(head(['From: a@b.test', 'Content-Type: multipart/mixed; boundary=b']), { headOnly: true });
    expect(message.toString('latin1')).toBe('From: a@b.test\r\n\r\n');
  });
});

describe('who wrote, compared with the lead', () => {
  it.each([
    ['Ann <ANN@Acme.test>', 'ann@acme.test', 'lead'],
    ['bob@acme.test', 'Ann@ACME.test', 'lead_domain'],
    // The company rule of domain/company.ts: the registrable domain, a subdomain included.
    ['bob@eu.acme.test', 'ann@acme.test', 'lead_domain'],
    ['bob@sales.acme.co.uk', 'ann@mail.acme.co.uk', 'lead_domain'],
    ['bob@acme.co.uk', 'ann@other.co.uk', 'other'], // a public suffix is no company
    ['mallory@evil.test', 'ann@acme.test', 'other'],
    ['someone@gmail.com', 'ann@gmail.com', 'other'], // a free-mail domain says nothing
    ['someone@libero.it', 'ann@libero.it', 'other'], // free mail only the email-providers list knows
    ['bob@ann.github.io', 'ann@bob.github.io', 'other'], // two customers of one private suffix
    ['', 'ann@acme.test', 'other'],
    ['not an address', 'ann@acme.test', 'other'],
    ['ann@acme.test', null, 'other'],
  ] as const)('%s to a lead %s: %s', (from, lead, relation) => {
    expect(senderRelation(from, lead)).toBe(relation);
  });
});

describe('the subject of a forward', () => {
  it('is the inbound subject on one line, with Re: once', () => {
    expect(forwardSubject('Step 1\r\nBcc: x@evil.test')).toBe('Re: Step 1 Bcc: x@evil.test');
    expect(forwardSubject('RE: Step 1')).toBe('RE: Step 1');
    expect(forwardSubject('\r\n')).toBe('Re: (no subject)');
  });
});

describe('which classes a machine writes', () => {
  it('is one rule, domain/inbound-policy.ts’s: the service keeps no copy of its own', () => {
    expect(Object.keys(inboundService)).not.toContain('AUTOMATIC_CLASSES');
    expect(MACHINE_CLASSES.filter((c) => isMachineClass(c))).toEqual(MACHINE_CLASSES);
    expect(isMachineClass('reply')).toBe(false);
  });
});
