import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyPortal } from '../temporal/portal-events.js';
import { accounts, senders } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, startService, type TestService } from './helpers/service.js';

let service: TestService;
let portal: http.Server;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let portalUrl: string;

beforeAll(async () => {
  service = await startService();
  portal = http.createServer((req, res) => {
    let body = '';
    req
      .on('data', (c) => (body += c))
      .on('end', () => {
        received.push({ headers: req.headers, body });
        res.end('ok');
      });
  });
  await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
  portalUrl = `http://127.0.0.1:${(portal.address() as AddressInfo).port}/hooks`;
});
afterAll(async () => {
  portal?.closeAllConnections();
  await new Promise((r) => portal?.close(r));
  await service?.stop();
});

/** Sends one portal event for the account and answers the request the portal received. */
async function deliveredEvent(accountId: string) {
  const leadId = randomUUID();
  await notifyPortal({ db: service.database.db, temporal: service.temporal, config: service.config }, accountId, 'lead.unsubscribed', {
    leadId,
  });
  const hit = await eventually(async () => received.find((r) => JSON.parse(r.body).data.leadId === leadId), { what: 'the portal webhook' });
  return {
    signatures: String(hit.headers['webhook-signature']).split(' '),
    verifiesWith: (secret: string) => {
      try {
        new Webhook(secret).verify(hit.body, {
          'webhook-id': String(hit.headers['webhook-id']),
          'webhook-timestamp': String(hit.headers['webhook-timestamp']),
          'webhook-signature': String(hit.headers['webhook-signature']),
        });
        return true;
      } catch {
        return false;
      }
    },
  };
}

describe('the portal webhook signing secret', () => {
  it('can be rotated: the new secret is shown once, and the previous one keeps signing beside it for 24 hours', async () => {
    const { api, account } = await asNewAccount(service);
    const first = (await api('PATCH', '/v1/account', { portalWebhookUrl: portalUrl })).body.portalWebhookSecret as string;
    expect(first).toMatch(/^whsec_/);
    const before = Date.now();
    const rotated = await api('POST', '/v1/account/portal-webhook-secret/rotate');
    expect(rotated.status).toBe(200);
    const second = rotated.body.portalWebhookSecret as string;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    const expires = Date.parse(rotated.body.previousSecretExpiresAt);
    expect(expires - before).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
    expect(expires - before).toBeLessThanOrEqual(24 * 3600_000 + 60_000);
    // Shown once: neither secret is in the account afterwards.
    const shown = JSON.stringify((await api('GET', '/v1/account')).body);
    expect(shown).not.toContain(second);
    expect(shown).not.toContain(first);

    const during = await deliveredEvent(account.id);
    expect(during.signatures).toHaveLength(2);
    expect(during.verifiesWith(second)).toBe(true);
    expect(during.verifiesWith(first)).toBe(true);

    // 24 hours later the previous secret no longer signs.
    await service.database.db
      .update(accounts)
      .set({ portalWebhookPreviousSecretExpiresAt: new Date(Date.now() - 1000) })
      .where(eq(accounts.id, account.id));
    const after = await deliveredEvent(account.id);
    expect(after.signatures).toHaveLength(1);
    expect(after.verifiesWith(second)).toBe(true);
    expect(after.verifiesWith(first)).toBe(false);
  });

  it('rotated again demotes the secret the last rotation gave: only the newest two sign', async () => {
    const { api, account } = await asNewAccount(service);
    const first = (await api('PATCH', '/v1/account', { portalWebhookUrl: portalUrl })).body.portalWebhookSecret as string;
    const second = (await api('POST', '/v1/account/portal-webhook-secret/rotate')).body.portalWebhookSecret as string;
    const third = (await api('POST', '/v1/account/portal-webhook-secret/rotate')).body.portalWebhookSecret as string;
    const delivered = await deliveredEvent(account.id);
    expect([delivered.verifiesWith(third), delivered.verifiesWith(second), delivered.verifiesWith(first)]).toEqual([true, true, false]);
  });
});

describe('the sender address', () => {
  it('has to be confirmed again when it changes', async () => {
    const { api, account } = await asNewAccount(service, { senderEmail: 'owner@acme.test' });
    const confirmedAt = new Date('2026-01-01T00:00:00Z');
    const confirmed = async () =>
      (await service.database.db.select({ at: senders.emailConfirmedAt }).from(senders).where(eq(senders.id, account.defaultSenderId!)))[0]!
        .at;
    await service.database.db.update(senders).set({ emailConfirmedAt: confirmedAt }).where(eq(senders.id, account.defaultSenderId!));
    expect((await api('PATCH', '/v1/account', { senderEmail: 'owner@acme.test', senderName: 'Same address' })).status).toBe(200);
    expect(await confirmed()).toEqual(confirmedAt);
    expect((await api('PATCH', '/v1/account', { senderEmail: 'someone-else@evil.test' })).status).toBe(200);
    expect(await confirmed()).toBeNull();
  });
});
