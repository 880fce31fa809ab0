import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertExactlyOnce, chaosSize, enrolAll, importLeads, recordFigures, sequenceEmails, waitForEnrolments } from '../helpers/chaos.js';
import { asNewAccount } from '../helpers/fixtures.js';
import type { ResendSink } from '../helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from '../helpers/service.js';
import { spawnWorker } from '../helpers/worker-process.js';

const SENDS = chaosSize(200, 1_000);

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
const workers: ReturnType<typeof spawnWorker>[] = [];

beforeAll(async () => {
  // The API runs here; the worker is a separate process so it can die the way a pod does.
  ({ service, sink } = started = await startServiceWithSink({
    poolSize: 10,
    withWorker: false,
  }));
});
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exited));
  await started?.stop();
});

describe(`a worker killed with kill -9 in the middle of ${SENDS} due sends`, () => {
  it(`leaves exactly ${SENDS} emails at the provider after a restart, none doubled, every enrolment completed`, async () => {
    const started = Date.now();
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: [{ subject: 'Due now, {{ first_name }}' }] });
    const leadIds = await importLeads(fixture, SENDS, `killed-${sequence.id}`);
    const first = spawnWorker(service.config);
    workers.push(first);
    await first.ready;
    await enrolAll(fixture, sequence.id, leadIds);

    // Kill while sends are in full flow: some emails out, most still due, some mid-request.
    await eventually(async () => sequenceEmails(sink, sequence.id).length >= SENDS / 4, {
      timeoutMs: 120_000,
      intervalMs: 20,
      what: 'a quarter of the sends',
    });
    first.child.kill('SIGKILL');
    await first.exited;
    const atKill = sequenceEmails(sink, sequence.id).length;
    expect(atKill, 'the kill came before the run ended').toBeLessThan(SENDS);

    const second = spawnWorker(service.config);
    workers.push(second);
    await second.ready;
    // Sends that were in flight come back after their 30 s start-to-close timeout.
    await waitForEnrolments(service.database.db, sequence.id, 'completed', SENDS, chaosSize(240_000, 480_000));
    const figures = await assertExactlyOnce({
      sink,
      db: service.database.db,
      sequenceId: sequence.id,
      leads: SENDS,
      steps: 1,
      temporal: service.temporal,
    });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    recordFigures('worker kill -9', { ...figures, atKill, seconds: Math.round((Date.now() - started) / 1000) });
  }, 600_000);
});
