import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { asNewAccount } from './helpers/fixtures.js';
import { logger, startService, testConfig, type TestService } from './helpers/service.js';
import { newWebhookSecret } from './helpers/webhooks.js';

/** The endpoints without an API key (webhooks, inbound email, unsubscribe links), limited per client IP. */
const LIMIT = 4;
let service: TestService;
beforeAll(async () => {
  service = await startService({
    withWorker: false,
    config: await testConfig({
      UNSUBSCRIBE_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      WEBHOOK_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      RESEND_WEBHOOK_SECRET: newWebhookSecret(),
      INBOUND_MIME_SECRET: 'inbound-secret-for-tests',
    }),
  });
});
afterAll(() => service?.stop());

/** `count` requests in a row from one client (X-Forwarded-For as a trusted local proxy sets it). */
async function burst(count: number, path: string, client: string, init: RequestInit = {}) {
  const answers: Response[] = [];
  for (let i = 0; i < count; i += 1) {
    answers.push(
      await fetch(`${service.baseUrl}${path}`, {
        ...init,
        headers: { 'x-forwarded-for': client, ...(init.headers as Record<string, string>) },
      }),
    );
  }
  return answers;
}

describe('the unauthenticated endpoints', () => {
  it('answer 429 with the error shape and Retry-After once one client IP is over the limit on /u/', async () => {
    const answers = await burst(LIMIT + 1, '/u/not-a-real-token', '203.0.113.10');
    expect(answers.slice(0, LIMIT).map((a) => a.status)).toEqual(Array(LIMIT).fill(400));
    const refused = answers[LIMIT]!;
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: { code: 'rate_limited', message: expect.stringContaining(`${LIMIT} per minute`) } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit-policy')).toMatch(new RegExp(`q=${LIMIT}; w=60`));
  });

  it('limit provider webhooks and inbound email per client IP too, before the body is read or the signature checked', async () => {
    const client = '203.0.113.20';
    const webhooks = await burst(LIMIT - 1, '/webhooks/resend', client, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(webhooks.map((a) => a.status)).toEqual(Array(LIMIT - 1).fill(401));
    const inbound = await burst(2, '/inbound/mime', client, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong', 'content-type': 'message/rfc822' },
      body: 'x'.repeat(1000),
    });
    expect(inbound.map((a) => a.status)).toEqual([401, 429]);
    expect(((await inbound[1]!.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  });

  it('count each client on its own, and leave /v1 (limited per API key) alone', async () => {
    expect((await burst(LIMIT + 1, '/u/not-a-real-token', '203.0.113.30')).at(-1)!.status).toBe(429);
    expect((await burst(1, '/u/not-a-real-token', '203.0.113.31'))[0]!.status).toBe(400);
    const { api } = await asNewAccount(service);
    for (let i = 0; i < LIMIT + 2; i += 1)
      expect((await api('GET', '/v1/account', undefined, { 'x-forwarded-for': '203.0.113.30' })).status).toBe(200);
  });

  it('believe X-Forwarded-For only from a trusted proxy: a client on the internet cannot pick a fresh address per request', async () => {
    // This test's client (127.0.0.1) is not trusted as a proxy here, so its header is ignored.
    const app = createApp({
      config: { ...service.config, TRUST_PROXY: 'false' },
      database: service.database,
      temporal: service.temporal,
      logger,
      mailer: { send: async () => ({ providerId: 'x' }) },
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT + 1; i += 1)
        statuses.push((await fetch(`${base}/u/not-a-real-token`, { headers: { 'x-forwarded-for': `198.51.100.${i}` } })).status);
      expect(statuses.at(-1)).toBe(429);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
