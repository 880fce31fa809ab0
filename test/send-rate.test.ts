import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import { sendsInHistory } from './helpers/history.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
const RATE = 5;

beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink({
    env: { SEND_RATE_PER_SECOND: String(RATE) },
  }));
});
afterAll(() => started?.stop());

describe(`a global send rate of ${RATE} per second`, () => {
  it('spreads a burst of due emails out instead of sending them at once', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence();
    const imported = await fixture.api('POST', '/v1/leads/import', {
      leads: Array.from({ length: 25 }, (_, i) => ({ email: `rate-${Date.now()}-${i}@example.com` })),
    });
    const leadIds = imported.body.results.map((r: { id: string }) => r.id);
    await fixture.api('POST', `/v1/sequences/${sequence.id}/enrolments/bulk`, { leadIds });
    await eventually(async () => sink.emails.length === 25, { timeoutMs: 60_000, what: '25 emails at the sink' });
    const times = sink.emails.map((e) => e.receivedAt).sort((a, b) => a - b);
    // The server hands out at most RATE sends a second (plus a burst), so 25 take several seconds.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(((25 - 2 * RATE) / RATE) * 1000);
  }, 90_000);

  it('sends each email through the rate-limited sends queue', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Queued' }] });
    const lead = await fixture.createLead();
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    await fixture.waitForStatus(enrolment.id, 'completed');
    expect(await sendsInHistory(service.temporal, enrolment.id)).toEqual({
      queued: [`${service.config.TEMPORAL_TASK_QUEUE}-sends`],
      local: 0,
    });
  });
});
