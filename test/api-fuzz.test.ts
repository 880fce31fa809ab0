import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import { runSchemathesis, type FuzzOptions } from './helpers/schemathesis.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { accountSnapshot, settledSnapshot } from './helpers/snapshot.js';
import { deliverReplyMime, newWebhookSecret } from './helpers/webhooks.js';

/**
 * Property-based fuzzing of the whole HTTP API from its own OpenAPI document: schemathesis
 * generates valid and invalid requests for every operation, and each answer must be no 5xx and
 * must match the documented status codes, content types, headers and response schemas; valid
 * requests must be accepted, invalid ones refused, undeclared methods answered 405 with Allow.
 */
const INBOUND_SECRET = 'fuzz-inbound-secret';
let started: ServiceWithSink | undefined;
let service: TestService;

beforeAll(async () => {
  // Every optional integration on, so the routes that need one answer as in production, not 503.
  ({ service } = started = await startServiceWithSink({
    env: { RESEND_WEBHOOK_SECRET: newWebhookSecret(), INBOUND_MIME_SECRET: INBOUND_SECRET },
  }));
});
afterAll(() => started?.stop());

/** An account with a little of everything, and the ids the fuzzer may put in paths. */
async function populatedAccount() {
  const fixture = await asNewAccount(service, { senderEmail: 'owner@acme.test' });
  const sequences = [
    await fixture.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] }),
    await fixture.createSequence({ steps: [{ delay: { amount: 2, unit: 'days' } }] }),
  ];
  const leads = [await fixture.createLead({ firstName: 'Ada' }), await fixture.createLead({ firstName: 'Grace' })];
  const enrolments = [await fixture.enrolLead(sequences[0]!.id, leads[0]!.id), await fixture.enrolLead(sequences[1]!.id, leads[1]!.id)];
  const oneOff = await fixture.api('POST', `/v1/leads/${leads[1]!.id}/emails`, { subject: 'Hello', body: 'A one-off' });
  expect(oneOff.status).toBe(202);
  await eventually(async () => (await fixture.sentMessages(enrolments[0]!.id)).length > 0, { what: 'step 1 sent' });
  // A reply, for a notification to read (and the enrolment ends replied: a status to refuse actions on).
  const { replyToken } = await fixture.enrolmentRow(enrolments[0]!.id);
  expect((await deliverReplyMime(service.baseUrl, INBOUND_SECRET, { from: leads[0]!.email, replyToken: replyToken! })).status).toBe(200);
  const notification = await eventually(async () => (await fixture.api('GET', '/v1/notifications')).body.data[0], {
    what: 'a notification',
  });
  const pathIds: FuzzOptions['pathIds'] = [
    {
      pathRegex: '^/v1/sequences/\\{id\\}/steps/\\{stepId\\}',
      params: { id: [sequences[0]!.id], stepId: sequences[0]!.steps.map((s) => s.id) },
      probability: 0.8,
    },
    { pathRegex: '^/v1/sequences/\\{id\\}(?!/steps/\\{stepId\\})', params: { id: sequences.map((s) => s.id) }, probability: 0.8 },
    { pathRegex: '^/v1/leads/\\{id\\}', params: { id: leads.map((l) => l.id) }, probability: 0.8 },
    { pathRegex: '^/v1/enrolments/\\{id\\}', params: { id: enrolments.map((e) => e.id) }, probability: 0.8 },
    { pathRegex: '^/v1/emails/\\{id\\}', params: { id: [oneOff.body.id] }, probability: 0.8 },
    { pathRegex: '^/v1/notifications/\\{id\\}', params: { id: [notification.id] }, probability: 0.8 },
  ];
  return { ...fixture, pathIds };
}

// schemathesis cannot generate message/rfc822 bodies; raw MIME is covered by test/inbound.test.ts.
const NOT_FUZZED = '^/inbound/mime$';
// Every check schemathesis has (test/helpers/schemathesis.ts says which answers a schema cannot
// predict), over the examples, coverage, fuzzing and stateful phases (the document's links).
const CHECKS = ['all'];

describe('the HTTP API under property-based fuzzing', () => {
  it('answers every generated request, valid or not, without a server error and as documented', async () => {
    const { apiKey, pathIds } = await populatedAccount();
    const result = await runSchemathesis({
      baseUrl: service.baseUrl,
      apiKey,
      mode: 'all',
      checks: CHECKS,
      maxExamples: Number(process.env.FUZZ_MAX_EXAMPLES ?? 30),
      pathIds,
      excludePathRegex: NOT_FUZZED,
      // A bound on a hang, not a speed: on a loaded 2-core CI machine the run takes 4–5 minutes,
      // and a run cut short loses its report (which case failed, and why).
      timeoutMs: 480_000,
    });
    console.log(`schemathesis: ${result.cases} test cases over ${result.operations} operations, exit code ${result.exitCode}`);
    if (result.exitCode !== 0) console.log(result.output);
    expect(result.failures).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.operations).toBeGreaterThan(40);
    expect(result.cases).toBeGreaterThan(1000);
  }, 600_000);

  it('changes nothing when it refuses a request: invalid requests leave the account as it was', async () => {
    const { account, apiKey, pathIds } = await populatedAccount();
    const db = service.database.db;
    // The worker's own writes (the one-off email, the reply) are done before the snapshot.
    const before = await settledSnapshot(db, account.id);
    const result = await runSchemathesis({
      baseUrl: service.baseUrl,
      apiKey,
      mode: 'negative',
      // The coverage phase derives invalid requests from every constraint of the document; the
      // fuzzing phase falls back to valid requests where it finds nothing to break.
      phases: ['coverage'],
      checks: CHECKS,
      maxExamples: Number(process.env.FUZZ_MAX_EXAMPLES ?? 30),
      // Real ids in every path, so an invalid body meets a real sequence, lead or enrolment.
      pathIds: pathIds!.map((rule) => ({ ...rule, probability: 1 })),
      // An import answers each invalid row on its own (200, by design), so it is no negative case.
      excludePathRegex: `${NOT_FUZZED}|^/v1/leads/import$`,
    });
    console.log(
      `schemathesis (invalid requests only): ${result.cases} test cases over ${result.operations} operations, exit code ${result.exitCode}`,
    );
    if (result.exitCode !== 0) console.log(result.output);
    expect(result.exitCode).toBe(0);
    expect(result.accepted).toEqual([]);
    expect(result.cases).toBeGreaterThan(500);
    expect(await accountSnapshot(db, account.id)).toEqual(before);
  }, 300_000);
});
