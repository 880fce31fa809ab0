import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { spawnWorker } from './helpers/worker-process.js';

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;

beforeAll(async () => {
  // The API in this process; the worker is a separate process the test kills.
  ({ service, sink } = started = await startServiceWithSink({ withWorker: false }));
});
afterAll(() => started?.stop());

describe('a worker killed between the provider accepting an email and the database recording it', () => {
  it('leaves exactly one email at the provider, and the enrolment completes after a restart', async () => {
    const first = spawnWorker(service.config);
    await first.ready;
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Only once' }] });
    const lead = await fixture.createLead();
    const accepted = sink.holdNext();
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);

    await accepted; // the provider has the email; its answer is held, so our write has not happened
    first.child.kill('SIGKILL');
    await first.exited;
    sink.release();
    const [stored] = await fixture.sentMessages(enrolment.id);
    expect(stored).toMatchObject({ status: 'sending', providerId: null });

    const second = spawnWorker(service.config);
    await second.ready;
    try {
      // The send's workflow task (a local send) or activity (the sends queue) times out, then the
      // retry sends the same key.
      await fixture.waitForStatus(enrolment.id, 'completed', 90_000);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    const delivered = sink.emails.filter((e) => e.payload.to === lead.email);
    expect(delivered).toHaveLength(1);
    const requests = sink.requests.filter((r) => r.key === delivered[0]!.idempotencyKey);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    const [recorded] = await fixture.sentMessages(enrolment.id);
    expect(recorded).toMatchObject({ status: 'sent', providerId: delivered[0]!.id });
  }, 150_000);
});

describe('a worker stopped with SIGTERM while a send is under way', () => {
  it('finishes that send, records it, then exits cleanly; nothing is lost or doubled', async () => {
    const worker = spawnWorker(service.config);
    await worker.ready;
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Draining' }] });
    const lead = await fixture.createLead();
    const accepted = sink.holdNext();
    const enrolment = await fixture.enrolLead(sequence.id, lead.id);
    await accepted;
    worker.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(worker.child.exitCode).toBeNull(); // still draining: the send is in flight
    sink.release();
    expect(await worker.exited).toBe(0);
    const [message] = await fixture.sentMessages(enrolment.id);
    expect(message).toMatchObject({ status: 'sent', providerId: expect.any(String) });
    expect(sink.emails.filter((e) => e.payload.to === lead.email)).toHaveLength(1);
    // The next worker finishes the enrolment without sending again.
    const next = spawnWorker(service.config);
    await next.ready;
    try {
      await fixture.waitForStatus(enrolment.id, 'completed', 30_000);
    } finally {
      next.child.kill('SIGTERM');
      await next.exited;
    }
    expect(sink.emails.filter((e) => e.payload.to === lead.email)).toHaveLength(1);
  }, 120_000);
});
