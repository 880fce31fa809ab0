import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import { apiClient, eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { settledSnapshot } from './helpers/snapshot.js';
import { deliverReplyMime } from './helpers/webhooks.js';

/**
 * Tenant isolation, swept over every route of the OpenAPI document (so a new route is covered
 * without editing this file): account B, with its own valid key, names account A's ids in every
 * path and body, and must get 404 and change nothing of A's; lists must not show A's data.
 */
let started: ServiceWithSink | undefined;
let service: TestService;
const INBOUND_SECRET = 'cross-tenant-inbound-secret';

beforeAll(async () => {
  ({ service } = started = await startServiceWithSink({
    env: { INBOUND_MIME_SECRET: INBOUND_SECRET },
  }));
});
afterAll(() => started?.stop());

/** Account A with one of everything a path can name: sequence, step, lead, enrolment, one-off email, notification. */
async function accountWithEverything() {
  const a = await asNewAccount(service, { senderEmail: `owner-${Date.now()}@a.test`, senderEmailConfirmedAt: new Date() });
  const sequence = await a.createSequence({ steps: [{}, { delay: { amount: 3, unit: 'days' } }] });
  const lead = await a.createLead({ firstName: 'Alice', company: 'A-Corp' });
  const enrolment = await a.enrolLead(sequence.id, lead.id);
  await eventually(async () => (await a.sentMessages(enrolment.id)).length > 0, { what: 'step 1 sent' });
  // Step 2 an experiment: its variants are A's too.
  const experiment = await a.api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[1]!.id}/variants`, {
    subject: 'Variant B',
    body: 'B',
  });
  expect(experiment.status, JSON.stringify(experiment.body)).toBe(201);
  const oneOff = await a.api('POST', `/v1/leads/${lead.id}/emails`, { subject: 'One-off', body: 'Hello' });
  expect(oneOff.status).toBe(202);

  // A reply from a second lead leaves a notification.
  const replier = await a.createLead({ firstName: 'Rita' });
  const replied = await a.enrolLead((await a.createSequence()).id, replier.id);
  const { replyToken } = await eventually(
    async () => ((await a.sentMessages(replied.id)).length ? a.enrolmentRow(replied.id) : undefined),
    { what: 'replier emailed' },
  );
  expect((await deliverReplyMime(service.baseUrl, INBOUND_SECRET, { from: replier.email, replyToken: replyToken! })).status).toBe(200);
  const notification = await eventually(async () => (await a.api('GET', '/v1/notifications')).body.data[0], { what: 'a notification' });
  const inbound = await eventually(
    async () => (await a.api('GET', `/v1/enrolments/${replied.id}`)).body.timeline.find((e: { inboundId?: string }) => e.inboundId),
    { what: 'the reply on the timeline' },
  );

  return {
    ...a,
    ids: {
      sequence: sequence.id,
      step: sequence.steps[0]!.id,
      steps: sequence.steps.map((s) => s.id),
      lead: lead.id,
      enrolment: enrolment.id,
      email: oneOff.body.id as string,
      notification: notification.id as string,
      inboundEmail: inbound.inboundId as string,
      variant: experiment.body.variants[1].id as string,
      sender: a.account.defaultSenderId!,
    },
    secrets: [lead.email, replier.email, 'A-Corp'],
  };
}

type Ids = Awaited<ReturnType<typeof accountWithEverything>>['ids'];

/** Which of A's ids a path parameter names, from the collection the path starts with. */
function idFor(path: string, param: string, ids: Ids): string {
  const collection = path.split('/')[2];
  if (param === 'stepId' && collection === 'sequences') return path.includes('/variants') ? ids.steps[1]! : ids.step;
  if (param === 'variantId' && collection === 'sequences') return ids.variant;
  if (param === 'id') {
    const byCollection: Record<string, string> = {
      sequences: ids.sequence,
      leads: ids.lead,
      enrolments: ids.enrolment,
      emails: ids.email,
      notifications: ids.notification,
      'inbound-emails': ids.inboundEmail,
      senders: ids.sender,
    };
    if (byCollection[collection!]) return byCollection[collection!]!;
  }
  throw new Error(`no id of account A for {${param}} in ${path}: teach idFor about this route`);
}

/** A body each route would accept from A, naming A's ids, so a refusal can only be about ownership. */
function validBody(operation: string, ids: Ids): unknown {
  const bodies: Record<string, unknown> = {
    'PATCH /v1/sequences/{id}': { name: 'Taken over' },
    'POST /v1/sequences/{id}/steps': { subject: 'Injected', body: 'Injected', delay: { amount: 0, unit: 'minutes' } },
    'PUT /v1/sequences/{id}/steps/order': { stepIds: [...ids.steps].reverse() },
    'PATCH /v1/sequences/{id}/steps/{stepId}': { subject: 'Changed by B' },
    'POST /v1/sequences/{id}/steps/{stepId}/preview': { leadId: ids.lead },
    'POST /v1/sequences/{id}/steps/{stepId}/test': {},
    'POST /v1/sequences/{id}/steps/{stepId}/impact': { delay: { amount: 1, unit: 'days' } },
    'POST /v1/sequences/{id}/enrolments': { leadId: ids.lead },
    'POST /v1/sequences/{id}/enrolments/bulk': { leadIds: [ids.lead] },
    'PATCH /v1/leads/{id}': { firstName: 'Mallory' },
    'POST /v1/leads/{id}/emails': { subject: 'From B', body: 'Hello' },
    'POST /v1/leads/{id}/events': { name: 'meeting_booked', eventKey: 'from-b' },
    'POST /v1/inbound-emails/{id}/classification': { class: 'auto_reply' },
    'POST /v1/inbound-emails/{id}/sentiment': { sentiment: 'negative' },
    'POST /v1/sequences/{id}/steps/{stepId}/variants': { subject: 'Injected', body: 'Injected' },
    'PATCH /v1/sequences/{id}/steps/{stepId}/variants/{variantId}': { subject: 'Changed by B' },
    'PATCH /v1/senders/{id}': { name: 'Taken over', dailyCap: 1 },
    'POST /v1/senders/{id}/retire': { liveEnrolments: 'pause' },
  };
  if (!(operation in bodies)) throw new Error(`no valid body for ${operation}: add one to validBody`);
  return bodies[operation];
}

describe('another account’s ids', () => {
  it('are not found through any route with a path parameter, and nothing of the owner’s changes', async () => {
    const a = await accountWithEverything();
    const b = await asNewAccount(service);
    const document = (await apiClient(service.baseUrl)('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { requestBody?: { required?: boolean } }>>;
    };
    const before = await settledSnapshot(service.database.db, a.account.id);

    const swept: string[] = [];
    const answers: Record<string, unknown> = {};
    for (const [path, item] of Object.entries(document.paths)) {
      // Only /v1 is scoped by API key; the public routes prove themselves by signature or token.
      if (!path.startsWith('/v1/') || !path.includes('{')) continue;
      for (const [method, operation] of Object.entries(item)) {
        const name = `${method.toUpperCase()} ${path}`;
        const url = path.replace(/\{(\w+)\}/g, (_, param: string) => idFor(path, param, a.ids));
        const res = await b.api(method.toUpperCase(), url, operation.requestBody ? validBody(name, a.ids) : undefined);
        answers[name] = { status: res.status, code: res.body?.error?.code };
        swept.push(name);
      }
    }
    console.log(`cross-tenant sweep: ${swept.length} operations with path parameters`);
    expect(swept.length).toBeGreaterThanOrEqual(25);
    expect(answers).toEqual(Object.fromEntries(swept.map((name) => [name, { status: 404, code: 'not_found' }])));
    expect(await settledSnapshot(service.database.db, a.account.id)).toEqual(before);
  });

  it('are not found in request bodies either, where the path is the caller’s own', async () => {
    const a = await accountWithEverything();
    const b = await asNewAccount(service);
    const own = await b.createSequence();
    const before = await settledSnapshot(service.database.db, a.account.id);
    const step = `/v1/sequences/${own.id}/steps/${own.steps[0]!.id}`;

    const enrol = await b.api('POST', `/v1/sequences/${own.id}/enrolments`, { leadId: a.ids.lead });
    expect([enrol.status, enrol.body.error]).toEqual([404, expect.objectContaining({ code: 'lead_not_found', field: 'leadId' })]);
    const bulk = await b.api('POST', `/v1/sequences/${own.id}/enrolments/bulk`, { leadIds: [a.ids.lead] });
    expect(bulk.body).toMatchObject({ enrolled: 0, results: [{ leadId: a.ids.lead, status: 'skipped', reason: 'lead_not_found' }] });
    const preview = await b.api('POST', `${step}/preview`, { leadId: a.ids.lead });
    expect([preview.status, preview.body.error?.field]).toEqual([404, 'leadId']);
    const reorder = await b.api('PUT', `/v1/sequences/${own.id}/steps/order`, { stepIds: a.ids.steps });
    expect(reorder.body.error.code).toBe('step_order_mismatch');
    expect(await settledSnapshot(service.database.db, a.account.id)).toEqual(before);
  });

  it('never appear in the other account’s lists', async () => {
    const a = await accountWithEverything();
    const b = await asNewAccount(service);
    const document = (await apiClient(service.baseUrl)('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const lists = Object.entries(document.paths)
      .filter(([path, item]) => path.startsWith('/v1/') && !path.includes('{') && 'get' in item)
      .map(([path]) => path);
    expect(lists).toEqual(expect.arrayContaining(['/v1/sequences', '/v1/leads', '/v1/outbox', '/v1/notifications', '/v1/account']));
    const owned = [...Object.values(a.ids).flat(), ...a.secrets, a.account.id];
    for (const path of lists) {
      for (const query of ['', '?search=Alice', '?search=A-Corp', '?unread=true', '?limit=500']) {
        const res = await b.api('GET', `${path}${query}`);
        const text = JSON.stringify(res.body);
        expect(
          owned.filter((value) => text.includes(value)),
          `${path}${query}`,
        ).toEqual([]);
      }
    }
  });
});
