import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { createLogger } from '../logger.js';
import { unsubscribeToken } from '../domain/unsubscribe-token.js';
import { asNewAccount } from './helpers/fixtures.js';
import { apiClient, logger, startService, testConfig, type TestService } from './helpers/service.js';

/** What the API port shows to someone with no API key: metrics, request logs, body parsing. */
const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
const lines: Record<string, any>[] = [];
const capture = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});

let service: TestService;
beforeAll(async () => {
  service = await startService({
    withWorker: false,
    config: await testConfig({ METRICS_TOKEN }),
    logger: createLogger({ level: 'info', destination: capture }),
  });
});
afterAll(() => service?.stop());

/** The same app with other settings, on its own port. */
async function appWith(overrides: Partial<typeof service.config>) {
  const app = createApp({
    config: { ...service.config, ...overrides },
    database: service.database,
    temporal: service.temporal,
    logger,
    mailer: { send: async () => ({ providerId: 'x' }) },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('GET /metrics on the API port', () => {
  it('needs the metrics token: none or a wrong one is a 401, the right one gets the metrics', async () => {
    const anonymous = await apiClient(service.baseUrl)('GET', '/metrics');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('unauthorized');
    expect(String(anonymous.body)).not.toContain('sequences_');
    expect((await apiClient(service.baseUrl, 'not-the-token')('GET', '/metrics')).status).toBe(401);
    // An account's API key is not the metrics token either: the counts are of all accounts.
    const { apiKey } = await asNewAccount(service);
    expect((await apiClient(service.baseUrl, apiKey)('GET', '/metrics')).status).toBe(401);
    const scraped = await apiClient(service.baseUrl, METRICS_TOKEN)('GET', '/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain('# TYPE sequences_http_request_duration_seconds histogram');
  });

  it('is not served at all (404) when no metrics token is set: the worker’s METRICS_PORT is the place', async () => {
    const other = await appWith({ METRICS_TOKEN: undefined });
    try {
      const res = await apiClient(other.baseUrl)('GET', '/metrics');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('route_not_found');
    } finally {
      await other.close();
    }
  });
});

describe('the request log', () => {
  it('never holds an unsubscribe or confirmation token: /u/ and /confirm-sender/ paths are logged redacted', async () => {
    const token = unsubscribeToken(service.config.UNSUBSCRIBE_SECRET, '0b6c3f2e-4a61-4d1e-9a55-6f7e3c2d1b0a');
    await fetch(`${service.baseUrl}/u/${token}`);
    await fetch(`${service.baseUrl}/U/${token}?utm=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    await fetch(`${service.baseUrl}/v1/account?token=${token}`);
    await fetch(`${service.baseUrl}/confirm-sender/0b6c3f2e-4a61-4d1e-9a55-6f7e3c2d1b0a.9999999999.${token.split('.')[1]}`);
    await new Promise((r) => setTimeout(r, 100));
    const all = JSON.stringify(lines);
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split('.')[1]);
    const urls = lines.map((l) => l.req?.url).filter(Boolean);
    expect(urls).toContain('/u/[redacted]');
    expect(urls).toContain('/u/[redacted]?utm=x');
    expect(urls).toContain('/v1/account?token=[redacted]');
    expect(urls).toContain('/confirm-sender/[redacted]');
  });
});

describe('a /v1 request', () => {
  it('without a valid API key is refused before its body is read: malformed or oversized JSON gets the 401', async () => {
    const anonymous = apiClient(service.baseUrl);
    const malformed = await anonymous('POST', '/v1/leads', '{"email": ', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(401);
    expect(malformed.body.error.code).toBe('unauthorized');
    const huge = await anonymous('POST', '/v1/leads', JSON.stringify({ email: 'a@example.com', pad: 'x'.repeat(6 * 1024 * 1024) }));
    expect(huge.status).toBe(401);
    const wrongKey = await apiClient(service.baseUrl, 'sk_live_nope')('POST', '/v1/leads', '{"email": ', {
      'content-type': 'application/json',
    });
    expect(wrongKey.status).toBe(401);
  });

  it('with a valid key still gets the parser’s answers: malformed JSON 400, too large 413', async () => {
    const { api } = await asNewAccount(service);
    const malformed = await api('POST', '/v1/leads', '{"email": ', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('malformed_json');
    const huge = await api('POST', '/v1/leads', JSON.stringify({ email: 'a@example.com', pad: 'x'.repeat(6 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
    expect((await api('POST', '/v1/leads', { email: 'parsed@example.com' })).status).toBe(201);
  });
});
