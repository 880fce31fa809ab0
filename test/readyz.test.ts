import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startService, testConfig, testDatabaseUrl, type TestService } from './helpers/service.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

let service: TestService;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

beforeAll(async () => {
  const direct = new URL(await testDatabaseUrl());
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
  const viaProxy = new URL(direct);
  viaProxy.port = String(proxy.port);
  service = await startService({ config: await testConfig({ DATABASE_URL: viaProxy.toString() }), withWorker: false });
});
afterAll(async () => {
  await proxy.open().catch(() => {});
  await service.stop().catch(() => {});
  await proxy.close();
});

describe('readiness', () => {
  it('is ready when the database and Temporal answer', async () => {
    const res = await apiClient(service.baseUrl)('GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body.checks).toEqual({ database: { status: 'up' }, temporal: { status: 'up' } });
  });

  it('answers 503 naming the database when it stops answering', async () => {
    await proxy.close();
    const res = await apiClient(service.baseUrl)('GET', '/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unavailable', failing: ['database'] });
    expect(res.body.checks.temporal).toEqual({ status: 'up' });
    // /healthz only says the process is alive.
    expect((await apiClient(service.baseUrl)('GET', '/healthz')).status).toBe(200);
  });
});
