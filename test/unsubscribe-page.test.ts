import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { leads } from '../db/schema.js';
import { unsubscribeToken } from '../domain/unsubscribe-token.js';
import { asNewAccount } from './helpers/fixtures.js';
import { launchBrowser } from './helpers/browser.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { accountSnapshot } from './helpers/snapshot.js';

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

/** A lead who received step 1 and waits for step 2; returns the unsubscribe link of that email. */
async function leadWithEmail(accountValues: Record<string, unknown> = {}) {
  const fixture = await asNewAccount(service, { companyName: 'Acme Ltd', brandColor: '#0f766e', ...accountValues });
  const sequence = await fixture.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
  const lead = await fixture.createLead();
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  const email = await eventually(async () => sink.emails.find((e) => e.payload.to === lead.email), { what: 'step 1 at the sink' });
  // Settled: the workflow has recorded step 1 and planned step 2, so later writes are the test's.
  await eventually(async () => ((await fixture.enrolmentRow(enrolment.id))?.nextDueAt?.getTime() ?? 0) > Date.now() + 86_400_000, {
    what: 'step 2 planned',
  });
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
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
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
    const post = await fetch(tampered, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(post.status).toBe(400);
    expect((await leadRow(lead.id)).unsubscribedAt).toBeNull();
    await page.close();
  });

  it('refuses every forged token (re-signed, swapped, or signed with another secret) and changes nothing of either lead', async () => {
    const x = await leadWithEmail();
    const y = await leadWithEmail();
    const [xId, xSignature] = x.url.split('/u/')[1]!.split('.') as [string, string];
    const [yId, ySignature] = y.url.split('/u/')[1]!.split('.') as [string, string];
    const before = await Promise.all([
      accountSnapshot(service.database.db, x.account.id),
      accountSnapshot(service.database.db, y.account.id),
    ]);
    const forged = {
      'X’s message with Y’s signature': `${xId}.${ySignature}`,
      'Y’s message with X’s signature': `${yId}.${xSignature}`,
      'X’s message id altered by one digit': `${xId.slice(0, -1)}${xId.endsWith('0') ? '1' : '0'}.${xSignature}`,
      'signed with another secret': unsubscribeToken('another-deployment-secret-0123456789abcdef', xId),
      'signed with the development default secret': unsubscribeToken(loadConfig({}).UNSUBSCRIBE_SECRET, xId),
      'a random message id, well signed by nobody': `${randomUUID()}.${xSignature}`,
      'signature cut short': `${xId}.${xSignature.slice(0, 16)}`,
      'an extra segment': `${xId}.${xSignature}.${xSignature}`,
      'no signature': xId,
      'a path instead of an id': `..%2F..%2Fv1%2Faccount.${xSignature}`,
    };
    for (const [what, token] of Object.entries(forged)) {
      const url = `${service.baseUrl}/u/${token}`;
      expect((await fetch(url)).status, what).toBe(400);
      const post = await fetch(url, {
        method: 'POST',
        body: 'List-Unsubscribe=One-Click',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(post.status, what).toBe(400);
    }
    expect(
      await Promise.all([accountSnapshot(service.database.db, x.account.id), accountSnapshot(service.database.db, y.account.id)]),
    ).toEqual(before);
    // The genuine tokens still work afterwards: each unsubscribes its own lead only.
    expect(
      (
        await fetch(x.url, {
          method: 'POST',
          body: 'List-Unsubscribe=One-Click',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
    ).toBe(200);
    expect((await leadRow(x.lead.id)).unsubscribedAt).not.toBeNull();
    expect((await leadRow(y.lead.id)).unsubscribedAt).toBeNull();
  });

  it('escapes what the account wrote, so a company name cannot inject script into the page', async () => {
    const { url } = await leadWithEmail({ companyName: '<script>window.pwned=1</script>Evil Co' });
    const page = await browser.newPage();
    await page.goto(url);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Unsubscribe from <script>window.pwned=1</script>Evil Co?',
    );
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
