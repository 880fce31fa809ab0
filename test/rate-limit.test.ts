import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import { apiClient, startService, testConfig, type TestService } from './helpers/service.js';

const LIMIT = 5;
let service: TestService;
beforeAll(async () => {
  service = await startService({ withWorker: false, config: await testConfig({ API_RATE_LIMIT_PER_MINUTE: String(LIMIT) }) });
});
afterAll(() => service.stop());

/** Sends `count` requests with one key, one after the other, and answers their statuses. */
async function burst(api: ReturnType<typeof apiClient>, count: number) {
  const answers = [];
  for (let i = 0; i < count; i += 1) answers.push(await api('GET', '/v1/account'));
  return answers;
}

describe('rate limiting per API key', () => {
  it('answers 429 with the error shape, Retry-After and RateLimit headers once a key is over its limit', async () => {
    const { api } = await asNewAccount(service);
    const answers = await burst(api, LIMIT + 2);
    expect(answers.slice(0, LIMIT).map((a) => a.status)).toEqual(Array(LIMIT).fill(200));
    expect(answers[0]!.headers.get('ratelimit-policy')).toMatch(new RegExp(`q=${LIMIT}; w=60`));
    const refused = answers[LIMIT]!;
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: { code: 'rate_limited', message: expect.stringContaining(`${LIMIT} per minute`) } });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/r=0/);
  });

  it('counts each key on its own: another account is still served while one is throttled', async () => {
    const busy = await asNewAccount(service);
    const other = await asNewAccount(service);
    expect((await burst(busy.api, LIMIT + 1)).at(-1)!.status).toBe(429);
    expect((await other.api('GET', '/v1/account')).status).toBe(200);
    expect((await other.api('POST', '/v1/leads', { email: 'still-served@example.com' })).status).toBe(201);
  });

  it('spends nothing of a key’s budget on requests that only claim it: a wrong secret gets 401', async () => {
    const { api, apiKey } = await asNewAccount(service);
    // Same key prefix (what identifies the key), wrong secret: someone who saw the prefix.
    const forged = apiClient(service.baseUrl, apiKey.slice(0, -4) + (apiKey.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
    const answers = await burst(forged, LIMIT + 2);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([401]));
    expect((await api('GET', '/v1/account')).status).toBe(200);
  });
});
