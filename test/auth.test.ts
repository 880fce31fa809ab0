import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../db/accounts.js';
import { parseApiKey } from '../domain/api-key.js';
import { apiClient, createTestAccount, startService, type TestService } from './helpers/service.js';

let service: TestService;
beforeAll(async () => {
  service = await startService({ withWorker: false });
});
afterAll(() => service.stop());

describe('API keys', () => {
  it('open the API to their own account', async () => {
    const { account, apiKey } = await createTestAccount(service, { name: 'Keyed' });
    const res = await apiClient(service.baseUrl, apiKey)('GET', '/v1/account');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: account.id, name: 'Keyed' });
  });

  it('are stored only as a hash', async () => {
    const { apiKey } = await createTestAccount(service);
    const rows = await service.database.db.query.apiKeys.findMany();
    const secret = parseApiKey(apiKey)!.secret;
    expect(JSON.stringify(rows)).not.toContain(secret);
  });

  it.each([
    ['no Authorization header', undefined],
    ['a malformed key', 'Bearer not-a-key'],
    ['a well-formed key that does not exist', 'Bearer seq_abcdefabcdef_' + 'x'.repeat(43)],
  ])('answer 401 to %s', async (_label, header) => {
    const res = await apiClient(service.baseUrl)('GET', '/v1/account', undefined, header ? { authorization: header } : {});
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('answer 401 once revoked', async () => {
    const { apiKey } = await createTestAccount(service);
    expect(await revokeApiKey(service.database.db, parseApiKey(apiKey)!.prefix)).toBe(true);
    const res = await apiClient(service.baseUrl, apiKey)('GET', '/v1/account');
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/revoked/);
  });

  it('answer 401 when the secret part is wrong', async () => {
    const { apiKey } = await createTestAccount(service);
    const tampered = apiKey.slice(0, -4) + (apiKey.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const res = await apiClient(service.baseUrl, tampered)('GET', '/v1/account');
    expect(res.status).toBe(401);
  });

  it('answer 401 with the error shape to every malformed Authorization header, before any other check', async () => {
    const { apiKey } = await createTestAccount(service);
    const { prefix } = parseApiKey(apiKey)!;
    const headers = [
      '',
      'Bearer',
      'Bearer ',
      `Basic ${Buffer.from(`user:${apiKey}`).toString('base64')}`,
      apiKey,
      `Bearer ${apiKey} extra`,
      `Bearer ${apiKey},${apiKey}`,
      `Bearer seq_${prefix}_`,
      `Bearer seq_${prefix}`,
      `Bearer seq_unknownprefx_${'A'.repeat(43)}`,
      `Bearer ${apiKey.toUpperCase()}`,
    ];
    for (const authorization of headers) {
      // A body that would be refused for other reasons: the key is checked first.
      const res = await fetch(`${service.baseUrl}/v1/leads`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'text/plain' },
        body: 'x',
      });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code], authorization).toEqual([401, 'unauthorized']);
    }
  });

  it('are not needed for the health probes', async () => {
    const call = apiClient(service.baseUrl);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
  });
});
