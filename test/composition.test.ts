import { mkdirSync } from 'node:fs';
import { doIUseEmail } from 'doiuse-email';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { composeEmail, type Branding } from '../domain/compose-email.js';
import type { MergeContext } from '../domain/merge-fields.js';
import { launchBrowser } from './helpers/browser.js';

const branding: Branding = {
  senderName: 'Sam Seller',
  companyName: 'Acme Ltd',
  postalAddress: '1 Main Street, Springfield',
  logoUrl: 'https://cdn.acme.test/logo.png',
  brandColor: '#ff6600',
  signature: 'Sam Seller\nHead of Sales, Acme',
};
const merge = (lead: Partial<MergeContext['lead']> = {}): MergeContext => ({
  lead: {
    first_name: 'Ada',
    last_name: 'Lovelace',
    full_name: 'Ada Lovelace',
    email: 'ada@example.com',
    company: 'Analytical',
    title: '',
    phone: '',
    ...lead,
  },
  custom: { plan: 'Pro' },
  sender: { name: 'Sam Seller', email: 'sam@acme.test', company: 'Acme Ltd', signature: '' },
});
const compose = (body: string, lead: Partial<MergeContext['lead']> = {}) =>
  composeEmail({ subject: 'Hello {{ first_name }}', body, merge: merge(lead), branding, unsubscribeUrl: 'https://sequences.test/u/token' });

describe('a composed email', () => {
  it('carries the branding: logo, colour, signature, company, postal address and unsubscribe link', async () => {
    const email = await compose('Hi **{{ first_name }}**, how is {{ company }}?');
    expect(email.subject).toBe('Hello Ada');
    expect(email.html).toContain('https://cdn.acme.test/logo.png');
    expect(email.html).toContain('#ff6600');
    expect(email.html).toContain('Head of Sales, Acme');
    expect(email.html).toContain('1 Main Street, Springfield');
    expect(email.html).toContain('href="https://sequences.test/u/token"');
    expect(email.html).toMatch(/<strong>Ada<\/strong>, how is Analytical\?/);
  });

  it('has a plain-text part with the body, signature, address and unsubscribe link', async () => {
    const { text } = await compose('Hi {{ first_name }}, see [our site](https://acme.test).');
    expect(text).toContain('Hi Ada, see our site [https://acme.test].');
    expect(text).toContain('Sam Seller');
    expect(text).toContain('1 Main Street, Springfield');
    expect(text).toContain('Unsubscribe: https://sequences.test/u/token');
  });

  it('escapes lead values, so a lead cannot inject markup', async () => {
    const { html } = await compose('Hi {{ first_name }}', { first_name: '<img src=x onerror=alert(1)><script>alert(2)</script>' });
    expect(html).not.toMatch(/<script>alert/);
    expect(html).not.toMatch(/<img src="?x/);
    expect(html).toContain('&lt;script&gt;');
  });

  it('keeps Markdown in lead values as text: no link, no image, no heading', async () => {
    const { html, text } = await compose('Hi {{ first_name }} from {{ company }}', {
      first_name: '[Claim your prize](https://evil.test)',
      company: '![x](https://track.evil.test/p.gif) **big**',
    });
    expect(html).not.toContain('href="https://evil.test');
    expect(html).not.toContain('track.evil.test/p.gif"');
    expect(html).not.toContain('<strong>big');
    expect(text).toContain('[Claim your prize](https://evil.test)');
    expect(text).toContain('![x](https://track.evil.test/p.gif) **big**');
  });

  it('sanitises what the Markdown itself contains', async () => {
    const { html } = await compose('<script>alert(1)</script><iframe src="https://evil.test"></iframe>[x](javascript:alert(1))');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<iframe');
    expect(html).not.toMatch(/href="javascript:/i);
  });

  it('is deterministic: the same inputs give the same bytes (a retry resends the same payload)', async () => {
    const body = '# Title\n\nHello {{ first_name }}';
    expect(await compose(body)).toEqual(await compose(body));
  });

  it('is the same, byte for byte, from the per-branding layout cache as from a fresh MJML render', async () => {
    const tricky = [
      { first_name: 'Ada', company: 'Analytical' },
      { first_name: '<b>Eve</b> & "Mallory" \'s', company: "$& $1 $$ $` $'" },
      { first_name: 'XSLOTUNSUBSCRIBEX', company: 'XSLOTBODYX XSLOTTITLEX' },
      { first_name: 'Zoë 😀 日本語', company: '\u200b\u00a0 tab\there' },
    ];
    const brandings = [branding, { ...branding, logoUrl: null, signature: '', brandColor: 'not-a-colour', companyName: '' }];
    for (const b of brandings) {
      for (const lead of tricky) {
        const input = {
          subject: 'Hi {{ first_name }} at {{ company }}',
          body: 'Hello **{{ first_name }}**,\n\n- one\n- [link](https://acme.test/?a=1&b=2)\n\n{{ company }}',
          merge: merge(lead),
          branding: b,
          unsubscribeUrl: 'https://sequences.test/u/tok?x=1&y="2"',
        };
        const cached = await composeEmail(input);
        expect(cached).toEqual(await composeEmail({ ...input, fresh: true }));
        // Filled in once: a lead named like a slot marker stays as typed.
        if (lead.first_name === 'XSLOTUNSUBSCRIBEX') expect(cached.html).toContain('Hello <strong>XSLOTUNSUBSCRIBEX</strong>');
      }
    }
  });

  it('uses only what Gmail, Outlook and Apple Mail support, apart from MJML’s progressive enhancements', async () => {
    const { html } = await compose('# Title\n\nSome **bold**, a [link](https://acme.test), a list:\n\n- one\n- two\n\n> a quote');
    const report = doIUseEmail(html, { emailClients: ['gmail.*', 'outlook.*', 'apple-mail.*'] });
    // MJML's <head> styles (selectors, @media) only improve mobile layout where supported; the
    // preview text is hidden with display/opacity/overflow; role and aria attributes are ignored
    // where unknown. Anything else unsupported fails this test.
    const tolerated =
      /^`(Descendant combinator|ID selector|Type selector|Class selector|Chaining selectors|@media|outline|<body> element|display:none|opacity|overflow|aria-label attribute|role attribute|word-break)`/;
    const errors = 'errors' in report ? report.errors : [];
    expect(errors.filter((e: string) => !tolerated.test(e))).toEqual([]);
  });
});

describe('a composed email in a browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser?.close());

  it.each([
    ['desktop', 800],
    ['phone', 375],
  ])('fits a %s screen without sideways scrolling and shows the footer', async (label, width) => {
    const { html } = await compose(
      '# Nice to meet you\n\nHi {{ first_name }}, it was great to talk at the event. ' + 'More words here. '.repeat(20),
    );
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.route('**/*', (route) =>
      route.request().url().startsWith('https://cdn.acme.test') ? route.fulfill({ status: 404 }) : route.continue(),
    );
    await page.setContent(html);
    const scrollWidth = await page.evaluate('document.documentElement.scrollWidth');
    expect(scrollWidth as number).toBeLessThanOrEqual(width);
    await expect(page.getByText('1 Main Street, Springfield').isVisible()).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'Unsubscribe' }).isVisible()).resolves.toBe(true);
    mkdirSync('test/.artifacts', { recursive: true });
    await page.screenshot({ path: `test/.artifacts/email-${label}.png`, fullPage: true });
    await page.close();
  });
});
