import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import { apiClient, startService, testConfig, type TestService } from './helpers/service.js';

/**
 * `npm start` without DATABASE_URL runs on embedded PGlite. The same flows must work there as on
 * the PostgreSQL server: raw SQL, row locks, transactions.
 */
let service: TestService;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'es-pglite-'));

beforeAll(async () => {
  const config = await testConfig({ DATA_DIR: dataDir, METRICS_TOKEN: 'metrics-token-for-tests-0123456789' });
  service = await startService({ config: { ...config, DATABASE_URL: undefined } });
  expect(service.database.driver).toBe('pglite');
}, 120_000);
afterAll(async () => {
  await service.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('on the embedded database', () => {
  it('enrols, sends, completes, and reports statistics and metrics', async () => {
    const { api, createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ subject: 'Hi {{ first_name }}' }] });
    const enrolment = await enrolLead(sequence.id, (await createLead({ firstName: 'Pia' })).id);
    await waitForStatus(enrolment.id, 'completed');
    const outbox = await api('GET', '/v1/outbox');
    expect(outbox.body.data[0]).toMatchObject({ subject: 'Hi Pia', status: 'sent' });
    const stats = await api('GET', `/v1/sequences/${sequence.id}/stats`);
    expect(stats.status).toBe(200);
    expect(stats.body.sequence).toMatchObject({ enrolled: 1, sent: 1 });
    const metrics = await apiClient(service.baseUrl, 'metrics-token-for-tests-0123456789')('GET', '/metrics');
    expect(metrics.body).toMatch(/sequences_enrolments\{status="completed"\} 1/);
  });

  it('takes a bulk enrolment with an idempotency key and answers its retry the same', async () => {
    const { api, createSequence } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] });
    const imported = await api('POST', '/v1/leads/import', {
      leads: Array.from({ length: 20 }, (_, i) => ({ email: `pg-${i}@example.com` })),
    });
    const leadIds = imported.body.results.map((r: { id: string }) => r.id);
    const first = await api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds }, { 'idempotency-key': 'k1' });
    const again = await api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds }, { 'idempotency-key': 'k1' });
    expect(first.body.enrolled).toBe(20);
    expect(again.body).toEqual(first.body);
  });
});
