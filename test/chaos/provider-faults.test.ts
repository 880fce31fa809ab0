import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertExactlyOnce, chaosSize, enrolAll, importLeads, recordFigures, sequenceEmails, waitForEnrolments } from '../helpers/chaos.js';
import { asNewAccount } from '../helpers/fixtures.js';
import type { ResendSink } from '../helpers/resend-sink.js';
import { startServiceWithSink, type ServiceWithSink, type TestService } from '../helpers/service.js';

const SENDS = chaosSize(200, 1_000);
const FAULTY_MS = chaosSize(20_000, 60_000);

let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;

beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink({ poolSize: 20 }));
});
afterAll(() => started?.stop());

describe(`the provider answering 30% 500s and 10% 429s for ${FAULTY_MS / 1000} s, then healthy`, () => {
  it(`ends with exactly ${SENDS} emails, none doubled, none lost, every enrolment completed`, async () => {
    const started = Date.now();
    const fixture = await asNewAccount(service);
    // Two steps: the second is planned and sent only after the first survived the faults.
    const sequence = await fixture.createSequence({ steps: [{ subject: 'First' }, { subject: 'Second' }] });
    const leadIds = await importLeads(fixture, SENDS / 2, `faults-${sequence.id}`);
    const faultsFrom = Date.now();
    sink.randomFaults({ rate500: 0.3, rate429: 0.1 });
    await enrolAll(fixture, sequence.id, leadIds);
    await new Promise((r) => setTimeout(r, FAULTY_MS - (Date.now() - faultsFrom)));
    sink.randomFaults({});
    const faultsUntil = Date.now();
    const during = sink.requests.filter((r) => r.at >= faultsFrom && r.at <= faultsUntil);
    const refused = { 500: during.filter((r) => r.status === 500).length, 429: during.filter((r) => r.status === 429).length };
    // The faults must have met real sends, or this test proves nothing.
    expect(refused[500]).toBeGreaterThan(SENDS / 10);
    expect(refused[429]).toBeGreaterThan(SENDS / 50);
    const okDuringFaults = sequenceEmails(sink, sequence.id).length;

    // A send that failed 4 times in a row waits 5+10+20+40 s of backoff: allow for the tail.
    await waitForEnrolments(service.database.db, sequence.id, 'completed', SENDS / 2, 300_000);
    const figures = await assertExactlyOnce({
      sink,
      db: service.database.db,
      sequenceId: sequence.id,
      leads: SENDS / 2,
      steps: 2,
      temporal: service.temporal,
    });
    recordFigures('provider 30% 500 / 10% 429', {
      ...figures,
      faultySeconds: FAULTY_MS / 1000,
      refused500: refused[500],
      refused429: refused[429],
      acceptedDuringFaults: okDuringFaults,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, 600_000);
});
