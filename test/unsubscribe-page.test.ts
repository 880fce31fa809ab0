import { eq } from 'drizzle-orm';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leads } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { launchBrowser } from './helpers/browser.js';
import { startResendSink, type ResendSink } from './helpers/resend-sink.js';
import { eventually, startService, testConfig, type TestService } from './helpers/service.js';

let sink: ResendSink;
let service: TestService;
let browser: Browser;

beforeAll(async () => {
  sink = await startResendSink();
  service = await startService({ config: await testConfig({ RESEND_API_KEY: sink.apiKey, RESEND_BASE_URL: sink.url }) });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await service.stop();
  await sink.close();
});

/** A lead who received step 1 and waits for step 2; returns the unsubscribe link of that email. */
async function leadWithEmail(accountValues: Record<string, unknown> = {}) {
  const fixture = await asNewAccount(service, { companyName: 'Acme Ltd', brandColor: '#0f766e', ...accountValues });
  const sequence = await fixture.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
  const lead = await fixture.createLead();
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  const email = await eventually(async () => sink.emails.find((e) => e.payload.to === lead.email), { what: 'step 1 at the sink' });
  const link = /<(https:\/\/sequences\.test\/u\/[^>]+)>/.exec(email.payload.headers!['List-Unsubscribe']!)![1]!;
  // Emails carry the public URL; the test opens the same path on the service under test.
  const url = link.replace('https://sequences.test', service.baseUrl);
  return { ...fixture, lead, enrolment, url };
}

const leadRow = async (id: string) => (await service.database.db.select().from(leads).where(eq(leads.id, id)))[0]!;

describe('the unsubscribe link', () => {
  it('opens a branded confirmation page; confirming unsubscribes the lead and ends the enrolment', async () => {
    const { lead, enrolment, url, waitForStatus } = await leadWithEmail();
    const page = await browser.newPage();
    await page.goto(url);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Unsubscribe from Acme Ltd?');
    await expect(page.getByText(lead.email).isVisible()).resolves.toBe(true);
    expect((await leadRow(lead.id)).unsubscribedAt).toBeNull(); // opening the page changes nothing
    await page.getByRole('button', { name: 'Unsubscribe' }).click();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('You are unsubscribed');
    expect((await leadRow(lead.id)).unsubscribedAt).not.toBeNull();
    await waitForStatus(enrolment.id, 'unsubscribed');
    await page.goto(url);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('You are unsubscribed');
    await page.close();
  });

  it('accepts the RFC 8058 one-click POST a mail client sends, with no page, idempotently', async () => {
    const { lead, enrolment, url, waitForStatus } = await leadWithEmail();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      expect(res.status).toBe(200);
    }
    await waitForStatus(enrolment.id, 'unsubscribed');
    const row = await leadRow(lead.id);
    expect(row.unsubscribedAt).not.toBeNull();
  });

  it('shows a clear page for a tampered token and changes nothing', async () => {
    const { lead, url } = await leadWithEmail();
    const tampered = url.slice(0, -3) + (url.endsWith('aaa') ? 'bbb' : 'aaa');
    const page = await browser.newPage();
    const response = await page.goto(tampered);
    expect(response!.status()).toBe(400);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('This link is not valid');
    expect(await page.content()).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    const post = await fetch(tampered, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(post.status).toBe(400);
    expect((await leadRow(lead.id)).unsubscribedAt).toBeNull();
    await page.close();
  });

  it('escapes what the account wrote, so a company name cannot inject script into the page', async () => {
    const { url } = await leadWithEmail({ companyName: '<script>window.pwned=1</script>Evil Co' });
    const page = await browser.newPage();
    await page.goto(url);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Unsubscribe from <script>window.pwned=1</script>Evil Co?');
    await page.close();
  });

  it('is accessible: a language, a landmark, a heading and a focusable named button', async () => {
    const { url } = await leadWithEmail();
    const page = await browser.newPage();
    await page.goto(url);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await expect(page.getByRole('main').count()).resolves.toBe(1);
    await page.keyboard.press('Tab');
    await expect(page.evaluate('document.activeElement?.textContent')).resolves.toBe('Unsubscribe');
    await page.screenshot({ path: 'test/.artifacts/unsubscribe-page.png' });
    await page.close();
  });
});
