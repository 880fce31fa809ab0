import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliverPortalWebhook } from '../activities/portal-webhook.js';
import { notifyPortal } from '../temporal/portal-events.js';
import type { PortalEvent } from '../workflows/contract.js';
import { loadConfig } from '../config.js';
import { accounts } from '../db/schema.js';
import type { LookupAll } from '../domain/webhook-destination.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startService, testConfig, type TestService } from './helpers/service.js';

/**
 * Server-side request forgery through the portal webhook URL: the service makes the request, so a
 * tenant's URL must not reach our network. This service runs as production would (no private
 * destinations allowed); only https is relaxed, since NODE_ENV is test.
 */
let service: TestService;
beforeAll(async () => {
  service = await startService({ config: await testConfig({ PORTAL_WEBHOOK_ALLOW_PRIVATE: 'false' }) });
});
afterAll(() => service?.stop());

/** A local HTTP server that records what reaches it; `answer` decides the response. */
async function localPortal(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end('ok')) {
  const received: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    received.push({ url: req.url!, headers: req.headers });
    req.resume().on('end', () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    received,
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const fakeDns =
  (answers: Record<string, string[]>): LookupAll =>
  async (hostname) => {
    const addresses = answers[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

/** An account whose stored URL is set directly, as one saved before these checks (or whose DNS changed since). */
async function accountWithStoredUrl(url: string) {
  const fixture = await asNewAccount(service);
  await service.database.db
    .update(accounts)
    .set({ portalWebhookUrl: url, portalWebhookSecret: `whsec_${Buffer.from(randomUUID()).toString('base64')}` })
    .where(eq(accounts.id, fixture.account.id));
  return fixture;
}

const event = (accountId: string): PortalEvent => ({
  id: randomUUID(),
  type: 'lead.bounced',
  accountId,
  createdAt: new Date().toISOString(),
  data: { leadId: randomUUID() },
});

describe('a portal webhook URL', () => {
  const refusedAtSave = async (portalWebhookUrl: string) => {
    const { api } = await asNewAccount(service);
    const res = await api('PATCH', '/v1/account', { portalWebhookUrl });
    expect(res.status, `${portalWebhookUrl}: ${JSON.stringify(res.body)}`).toBe(422);
    expect(res.body.error).toMatchObject({
      code: expect.stringMatching(/^webhook_url_/),
      field: 'portalWebhookUrl',
      message: expect.stringContaining('portalWebhookUrl'),
    });
    expect((await api('GET', '/v1/account')).body.portalWebhookUrl).toBeNull();
    return res.body.error as { code: string; message: string };
  };

  it('pointing at the cloud metadata address is refused', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://metadata.google.internal/computeMetadata/v1/',
    ]) {
      expect((await refusedAtSave(url)).message).toMatch(/metadata/);
    }
  });

  it('pointing at loopback, private, link-local, CGNAT or unspecified addresses is refused, in decimal, octal and hex spellings too', async () => {
    for (const url of [
      'http://127.0.0.1:5432/',
      'http://[::1]/',
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      'http://169.254.1.1/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://2130706433/',
      'http://0x7f.0.0.1/',
      'http://0177.0.0.1/',
      'http://[::ffff:127.0.0.1]/',
    ]) {
      expect((await refusedAtSave(url)).code).toBe('webhook_url_not_allowed');
    }
  });

  it('naming a host that resolves to a loopback address is refused', async () => {
    expect((await refusedAtSave('http://localhost:4000/hooks')).code).toBe('webhook_url_not_allowed');
  });

  it('with credentials in it is refused', async () => {
    expect((await refusedAtSave('https://user:pass@93.184.215.14/hooks')).message).toMatch(/user name or password/);
  });

  it('whose host does not resolve is refused as unresolvable', async () => {
    expect((await refusedAtSave('https://no-such-host.invalid/hooks')).code).toBe('webhook_url_unresolvable');
  });

  it('at a public address is accepted and gets its signing secret', async () => {
    const { api } = await asNewAccount(service);
    const res = await api('PATCH', '/v1/account', { portalWebhookUrl: 'https://93.184.215.14/hooks' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      portalWebhookUrl: 'https://93.184.215.14/hooks',
      portalWebhookSecret: expect.stringMatching(/^whsec_/),
    });
  });
});

describe('a portal webhook delivery', () => {
  it('to a destination the rules refuse fails for good at once, with the reason, and reaches nothing', async () => {
    const portal = await localPortal();
    try {
      const { account } = await accountWithStoredUrl(`http://127.0.0.1:${portal.port}/hooks`);
      const dedupeKey = `ssrf-${randomUUID()}`;
      await notifyPortal(
        { db: service.database.db, temporal: service.temporal, config: service.config },
        account.id,
        'lead.bounced',
        { leadId: randomUUID() },
        dedupeKey,
      );
      // A retryable failure would still be retrying (5 s, 10 s, …) when this times out.
      const failure = await Promise.race([
        service.temporal.workflow
          .getHandle(`portal-webhook-${dedupeKey}`)
          .result()
          .then(
            () => 'delivered',
            (error: unknown) => error,
          ),
        new Promise((r) => setTimeout(() => r('still retrying'), 15_000)),
      ]);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause?.cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toMatch(/127\.0\.0\.1 is not a public address \(loopback\)/);
      expect(portal.received).toEqual([]);
    } finally {
      await portal.close();
    }
  });

  it('re-checks DNS when it connects: a name that now resolves to a private address is refused, non-retryably', async () => {
    const portal = await localPortal();
    try {
      const { account } = await accountWithStoredUrl(`http://portal.example.com:${portal.port}/hooks`);
      // Public when it was saved; 127.0.0.1 now (DNS rebinding).
      const deliver = createDeliverPortalWebhook({
        db: service.database.db,
        config: service.config,
        resolve: fakeDns({ 'portal.example.com': ['127.0.0.1'] }),
      });
      const error = await deliver(event(account.id)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).nonRetryable).toBe(true);
      expect((error as ApplicationFailure).message).toMatch(/portal\.example\.com resolves to 127\.0\.0\.1/);
      const mixed = createDeliverPortalWebhook({
        db: service.database.db,
        config: service.config,
        resolve: fakeDns({ 'portal.example.com': ['93.184.215.14', '10.0.0.7'] }),
      });
      await expect(mixed(event(account.id))).rejects.toMatchObject({ nonRetryable: true, message: expect.stringMatching(/10\.0\.0\.7/) });
      expect(portal.received).toEqual([]);
    } finally {
      await portal.close();
    }
  });

  it('connects to the address it checked, not to a second DNS answer', async () => {
    const portal = await localPortal();
    try {
      // portal.example.com does not resolve on this machine: reaching the local portal proves the
      // socket used the answer the check saw (allowed here by the development setting).
      const { account } = await accountWithStoredUrl(`http://portal.example.com:${portal.port}/hooks`);
      const deliver = createDeliverPortalWebhook({
        db: service.database.db,
        config: { ...service.config, PORTAL_WEBHOOK_ALLOW_PRIVATE: true },
        resolve: fakeDns({ 'portal.example.com': ['127.0.0.1'] }),
      });
      await expect(deliver(event(account.id))).resolves.toEqual({ status: 200 });
      expect(portal.received).toMatchObject([{ url: '/hooks', headers: { host: `portal.example.com:${portal.port}` } }]);
    } finally {
      await portal.close();
    }
  });

  it('does not follow a redirect: a 3xx is a failed delivery naming the redirect', async () => {
    const target = await localPortal();
    const portal = await localPortal((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${target.port}/internal` }).end());
    try {
      const { account } = await accountWithStoredUrl(`http://127.0.0.1:${portal.port}/hooks`);
      const deliver = createDeliverPortalWebhook({
        db: service.database.db,
        config: { ...service.config, PORTAL_WEBHOOK_ALLOW_PRIVATE: true },
      });
      await expect(deliver(event(account.id))).rejects.toThrow(
        /portal answered 302 .*redirect to http:\/\/127\.0\.0\.1:\d+\/internal.*not followed/,
      );
      expect(portal.received).toHaveLength(1);
      expect(target.received).toEqual([]);
    } finally {
      await portal.close();
      await target.close();
    }
  });
});

describe('the development setting PORTAL_WEBHOOK_ALLOW_PRIVATE', () => {
  const production = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://db/x',
    TEMPORAL_ADDRESS: 'temporal:7233',
    UNSUBSCRIBE_SECRET: 'x'.repeat(32),
    PUBLIC_BASE_URL: 'https://sequences.example.com',
  };

  it('is off unless set, and refused in production', () => {
    expect(loadConfig({}).PORTAL_WEBHOOK_ALLOW_PRIVATE).toBe(false);
    expect(loadConfig(production).PORTAL_WEBHOOK_ALLOW_PRIVATE).toBe(false);
    expect(loadConfig({ PORTAL_WEBHOOK_ALLOW_PRIVATE: 'true' }).PORTAL_WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(() => loadConfig({ ...production, PORTAL_WEBHOOK_ALLOW_PRIVATE: 'true' })).toThrowError(
      /PORTAL_WEBHOOK_ALLOW_PRIVATE must not be true when NODE_ENV=production/,
    );
  });
});
