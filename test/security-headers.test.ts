import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import { launchBrowser } from './helpers/browser.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
let browser: Browser;

beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink());
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await started?.stop();
});

/** The CSP as a map of directive → sources. */
function csp(header: string | null): Record<string, string[]> {
  return Object.fromEntries(
    (header ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

/** A page that records every Content-Security-Policy violation it sees. */
async function watchedPage(): Promise<{ page: Page; violations: string[] }> {
  const page = await browser.newPage();
  const violations: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  await page.addInitScript({
    content:
      "document.addEventListener('securitypolicyviolation', (e) => console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
  });
  return { page, violations };
}

async function unsubscribeLink() {
  const fixture = await asNewAccount(service, { companyName: 'Acme Ltd', brandColor: '#0f766e' });
  const sequence = await fixture.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
  const lead = await fixture.createLead();
  await fixture.enrolLead(sequence.id, lead.id);
  const email = await eventually(async () => sink.emails.find((e) => e.payload.to === lead.email), { what: 'step 1 at the sink' });
  const link = /<(https:\/\/sequences\.test\/u\/[^>]+)>/.exec(email.payload.headers!['List-Unsubscribe']!)![1]!;
  return link.replace('https://sequences.test', service.baseUrl);
}

describe('every answer', () => {
  it('carries nosniff, no-referrer and a CSP that forbids framing, JSON and HTML alike', async () => {
    const { api } = await asNewAccount(service);
    const answers = await Promise.all([
      fetch(`${service.baseUrl}/healthz`),
      fetch(`${service.baseUrl}/v1/account`),
      api('GET', '/v1/account').then((r) => ({ headers: r.headers })),
      fetch(`${service.baseUrl}/openapi.json`),
      fetch(`${service.baseUrl}/no-such-route`),
      fetch(`${service.baseUrl}/docs`),
      fetch(`${service.baseUrl}/u/not-a-token`),
    ]);
    for (const { headers } of answers) {
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('referrer-policy')).toBe('no-referrer');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(csp(headers.get('content-security-policy'))['frame-ancestors']).toEqual(["'none'"]);
    }
    // JSON is never a document to run anything in.
    expect(csp(answers[1]!.headers.get('content-security-policy'))['default-src']).toEqual(["'none'"]);
  });
});

describe('the API docs page', () => {
  it('loads in a browser under its CSP with no violation: scripts only from this origin', async () => {
    const res = await fetch(`${service.baseUrl}/docs`);
    const policy = csp(res.headers.get('content-security-policy'));
    expect(policy['script-src']).toEqual(["'self'"]);
    expect(policy['object-src']).toEqual(["'none'"]);
    const { page, violations } = await watchedPage();
    await page.goto(`${service.baseUrl}/docs`);
    await page.getByText('Email sequences API').first().waitFor({ timeout: 15_000 });
    await page.getByText('/v1/sequences', { exact: true }).first().waitFor({ timeout: 15_000 });
    expect(violations).toEqual([]);
    await page.close();
  });
});

describe('the unsubscribe page', () => {
  it('runs no script, cannot be framed, and still shows its branding and confirms in a browser', async () => {
    const url = await unsubscribeLink();
    const res = await fetch(url);
    const policy = csp(res.headers.get('content-security-policy'));
    expect(policy['default-src']).toEqual(["'none'"]);
    expect(policy['script-src']).toBeUndefined(); // falls back to default-src 'none'
    expect(policy['form-action']).toEqual(["'self'"]);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');

    const { page, violations } = await watchedPage();
    await page.goto(url);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Unsubscribe from Acme Ltd?');
    // The inline stylesheet (brand colour) applies.
    await expect(page.evaluate('getComputedStyle(document.querySelector("main")).borderTopColor')).resolves.toBe('rgb(15, 118, 110)');
    await page.getByRole('button', { name: 'Unsubscribe' }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('You are unsubscribed');
    expect(violations).toEqual([]);
    await page.close();
  });
});
