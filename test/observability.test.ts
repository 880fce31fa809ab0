import { Writable } from 'node:stream';
import { parseApiKey } from '../domain/api-key.js';
import { createLogger } from '../logger.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import { apiClient, eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';

const lines: Record<string, any>[] = [];
const capture = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});

let started: ServiceWithSink | undefined;
let service: TestService;
const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
beforeAll(async () => {
  const logger = createLogger({ level: 'info', destination: capture });
  ({ service } = started = await startServiceWithSink({
    env: { METRICS_TOKEN },
    logger,
  }));
});
afterAll(() => started?.stop());

describe('logs', () => {
  it('have one JSON line per request and per send, with the ids, and never an API key or an email body', async () => {
    const { api, apiKey, account, createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ body: 'Secret body text {{ first_name }}' }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    await waitForStatus(enrolment.id, 'completed');
    await api('GET', `/v1/enrolments/${enrolment.id}`);
    const all = JSON.stringify(lines);
    expect(all).not.toContain(apiKey);
    expect(all).not.toContain(parseApiKey(apiKey)!.secret);
    expect(all).not.toContain('Secret body text');
    const request = lines.find((l) => l.req?.url === `/v1/enrolments/${enrolment.id}` && l.res);
    expect(request).toMatchObject({ accountId: account.id, res: { statusCode: 200 }, responseTime: expect.any(Number) });
    const sent = lines.find((l) => l.msg === 'email sent' && l.enrolmentId === enrolment.id);
    expect(sent).toMatchObject({ accountId: account.id, stepId: sequence.steps[0]!.id, messageId: expect.any(String) });
  });
});

describe('/metrics', () => {
  it('exposes HTTP latency, emails sent, enrolments by status and webhook events in Prometheus format', async () => {
    const { createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const enrolment = await enrolLead((await createSequence()).id, (await createLead()).id);
    await waitForStatus(enrolment.id, 'completed');
    const text = await eventually(async () => {
      const res = await apiClient(service.baseUrl, METRICS_TOKEN)('GET', '/metrics');
      return res.status === 200 && typeof res.body === 'string' && res.body;
    });
    expect(text).toMatch(/sequences_http_request_duration_seconds_bucket\{.*route="\/v1\/sequences\/:id\/enrolments".*\}/);
    expect(text).toMatch(/sequences_emails_sent_total\{kind="step"\} [1-9]/);
    expect(text).toMatch(/sequences_enrolments\{status="completed"\} [1-9]/);
    expect(text).toContain('# TYPE sequences_webhook_events_total counter');
  });
});
