import { describe, expect, it } from 'vitest';
import { boundedHeaders, parseAuthenticationResults, senderAuthenticated } from '../../domain/inbound.js';

// Whether an inbound email's From is its sender's (domain/inbound.ts, senderAuthenticated): the
// receiving server's Authentication-Results header (RFC 8601), the topmost one, and only from a
// trusted server. A forged From must never count: it would reach every colleague of the lead.

const TRUSTED = ['mx.receiver.test'];
const FROM = 'CEO <ceo@acme.test>';
const verdict = (value: string | undefined, from = FROM, trusted: readonly string[] = TRUSTED) =>
  senderAuthenticated(boundedHeaders(value === undefined ? {} : { 'Authentication-Results': value }), from, trusted);

describe('an Authentication-Results header, parsed', () => {
  it('reads the authserv-id and each result with its properties, comments and quotes aside', () => {
    expect(
      parseAuthenticationResults(
        'mx.receiver.test 1; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=bounce@acme.test; ' +
          'dkim=pass (2048-bit key) header.d=acme.test header.i=@acme.test header.b="AKL4;e6fV"; ' +
          'dmarc=pass (p=none sp=none pct=100) action=none header.from=acme.test; dkim/1=fail reason="bad signature"',
      ),
    ).toEqual({
      authservId: 'mx.receiver.test',
      results: [
        { method: 'spf', result: 'pass', properties: { 'smtp.mailfrom': 'bounce@acme.test' } },
        { method: 'dkim', result: 'pass', properties: { 'header.d': 'acme.test', 'header.i': '@acme.test', 'header.b': 'akl4;e6fv' } },
        { method: 'dmarc', result: 'pass', properties: { action: 'none', 'header.from': 'acme.test' } },
        { method: 'dkim', result: 'fail', properties: { reason: 'bad signature' } },
      ],
    });
  });

  it('reads `none` as no results, and allows a trailing semicolon', () => {
    expect(parseAuthenticationResults('mx.receiver.test; none')).toEqual({ authservId: 'mx.receiver.test', results: [] });
    expect(parseAuthenticationResults('mx.receiver.test; dkim=pass header.d=acme.test;')?.results).toHaveLength(1);
  });

  it.each([
    ['nothing', ''],
    ['no authserv-id (results first)', 'spf=pass smtp.mailfrom=acme.test'],
    ['two headers run together by a space', 'mx.receiver.test; spf=fail smtp.mailfrom=evil.test fake.test; dkim=pass header.d=acme.test'],
    ['two headers run together by a comma', 'mx.receiver.test; spf=fail smtp.mailfrom=evil.test, fake.test; dkim=pass header.d=acme.test'],
    ['a word where a property should be', 'mx.receiver.test; dkim=pass header.d=acme.test trailing'],
    ['an empty part', 'mx.receiver.test;; dkim=pass header.d=acme.test'],
    ['an unclosed comment', 'mx.receiver.test; dkim=pass (header.d=acme.test'],
    ['an unclosed quote', 'mx.receiver.test; dkim=pass header.d="acme.test'],
    ['a version that is no number', 'mx.receiver.test v1; dkim=pass header.d=acme.test'],
  ])('is none for %s', (_what, value) => {
    expect(parseAuthenticationResults(value)).toBeNull();
  });

  it('reads a hostile 8 KB value in bounded time, whatever it is made of', () => {
    const started = performance.now();
    for (const unit of ['(', '"', '\\', ';', '=', 'a=b ', '; a=b', '(a(b', 'x']) {
      parseAuthenticationResults(`mx.receiver.test; ${unit.repeat(Math.ceil(8_192 / unit.length))}`);
    }
    const many = `mx.receiver.test${'; dkim=pass header.d=acme.test'.repeat(300)}`;
    expect(parseAuthenticationResults(many)).toBeNull(); // more results than any server writes
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe('the From, authenticated', () => {
  it.each([
    ['dmarc=pass for the From domain', 'mx.receiver.test; dmarc=pass header.from=acme.test'],
    ['dkim=pass with the From domain', 'mx.receiver.test; dkim=pass header.d=acme.test'],
    ['dkim=pass at a subdomain of it (relaxed alignment)', 'mx.receiver.test; dkim=pass header.d=mail.acme.test'],
    ['dkim=pass named by header.i alone', 'mx.receiver.test; dkim=pass header.i=@acme.test'],
    ['spf=pass with an aligned envelope sender', 'mx.receiver.test; spf=pass smtp.mailfrom=bounces@eu.acme.test'],
    ['one passing result among failing ones', 'mx.receiver.test; spf=fail smtp.mailfrom=acme.test; dkim=pass header.d=acme.test'],
    ['a trusted id in other letters', 'MX.Receiver.TEST; dkim=pass header.d=ACME.test'],
  ])('counts for %s', (_what, value) => {
    expect(verdict(value)).toBe(true);
  });

  it.each([
    ['no header at all', undefined],
    ['no results', 'mx.receiver.test; none'],
    [
      'every method failing',
      'mx.receiver.test; spf=fail smtp.mailfrom=acme.test; dkim=fail header.d=acme.test; dmarc=fail header.from=acme.test',
    ],
    ['dkim=pass for another domain (anyone can sign their own)', 'mx.receiver.test; dkim=pass header.d=evil.test'],
    ['dkim=pass for another domain under the same public suffix', 'mx.receiver.test; dkim=pass header.d=notacme.test'],
    ['spf=pass for another envelope sender', 'mx.receiver.test; spf=pass smtp.mailfrom=evil.test'],
    ['dmarc=pass about another From', 'mx.receiver.test; dmarc=pass header.from=evil.test'],
    ['dmarc=pass naming no From', 'mx.receiver.test; dmarc=pass'],
    ['softfail and neutral', 'mx.receiver.test; spf=softfail smtp.mailfrom=acme.test; dkim=neutral header.d=acme.test'],
    ['a server that is not trusted', 'fake.test; dmarc=pass header.from=acme.test'],
    ['no authserv-id', 'dmarc=pass header.from=acme.test'],
    ['two headers run together', 'mx.receiver.test; spf=fail smtp.mailfrom=evil.test fake.test; dkim=pass header.d=acme.test'],
  ])('does not count for %s', (_what, value) => {
    expect(verdict(value)).toBe(false);
  });

  it('does not count for a From that is no one mailbox, whatever the results', () => {
    expect(verdict('mx.receiver.test; dkim=pass header.d=acme.test', 'ceo@acme.test, mallory@evil.test')).toBe(false);
    expect(verdict('mx.receiver.test; dkim=pass header.d=acme.test', '')).toBe(false);
  });

  it('at a shared mail host, counts only for the From’s own tenant (another tenant signs its own mail)', () => {
    const from = 'ceo@contoso.onmicrosoft.com';
    expect(verdict('mx.receiver.test; dkim=pass header.d=contoso.onmicrosoft.com', from)).toBe(true);
    expect(verdict('mx.receiver.test; dkim=pass header.d=fabrikam.onmicrosoft.com', from)).toBe(false);
    expect(verdict('mx.receiver.test; spf=pass smtp.mailfrom=bounce@fabrikam.onmicrosoft.com', from)).toBe(false);
    expect(verdict('mx.receiver.test; dkim=pass header.d=onmicrosoft.com', from)).toBe(false);
  });

  it('is unknown (null) when no receiving server is trusted: nothing was checked', () => {
    expect(verdict('mx.receiver.test; dmarc=pass header.from=acme.test', FROM, [])).toBeNull();
  });
});

describe('the topmost header, as the headers are kept', () => {
  const real = 'mx.receiver.test; spf=fail smtp.mailfrom=evil.test; dkim=none';
  const fake = 'mx.receiver.test; dmarc=pass header.from=acme.test';

  it('is the first of a list of values (mailparser and providers give them in the message’s order)', () => {
    const headers = boundedHeaders({ 'authentication-results': [real, fake] });
    expect(headers['authentication-results']).toBe(real);
    expect(senderAuthenticated(headers, FROM, TRUSTED)).toBe(false);
    expect(senderAuthenticated(boundedHeaders({ 'authentication-results': [fake, real] }), FROM, TRUSTED)).toBe(true);
  });

  it('is the first of a list of fields', () => {
    const headers = boundedHeaders([
      { key: 'Authentication-Results', value: real },
      { key: 'authentication-results', value: fake },
    ]);
    expect(senderAuthenticated(headers, FROM, TRUSTED)).toBe(false);
  });

  it('is nobody’s when a record holds it under two names, whose order says nothing', () => {
    const headers = boundedHeaders({ 'Authentication-Results': fake, 'authentication-results': fake });
    expect(headers['authentication-results']).toBe('');
    expect(senderAuthenticated(headers, FROM, TRUSTED)).toBe(false);
  });

  it('is never joined with another one (a joined value would read as one header that says anything)', () => {
    const headers = boundedHeaders({ 'authentication-results': [real, '; dkim=pass header.d=acme.test'] });
    expect(senderAuthenticated(headers, FROM, TRUSTED)).toBe(false);
  });
});
