import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { steps } from '../db/schema.js';
import { MAX_TEMPLATE_TAGS } from '../domain/merge-fields.js';
import { MAX_BODY_LENGTH, MAX_STEPS_PER_REQUEST } from '../api/schemas/sequences.js';
import { MAX_WAITING_RENDERS } from '../api/services/render-queue.js';
import { asNewAccount } from './helpers/fixtures.js';
import { startService, type TestService } from './helpers/service.js';

/**
 * Issue 14 §1: one tenant's template must not freeze the service for the others. What a
 * template may do is bounded before it runs (test/rules.test.ts has the rules); here, the API
 * refuses what is over the bounds when a step is saved, naming the step and the limit.
 */
let service: TestService;
beforeAll(async () => {
  service = await startService();
});
afterAll(async () => {
  await service.stop();
});

const step = (body: string, subject = 'Hello') => ({ subject, body, delay: { amount: 0, unit: 'minutes' } });
const LOOP = '{% for i in (1..100000) %}{% cycle "a","b" %}{% endfor %}';

describe('a step whose template could hold the thread', () => {
  it('is refused when the sequence is created, naming the step and what it may not do', async () => {
    const { api } = await asNewAccount(service);
    const res = await api('POST', '/v1/sequences', { name: 'Heavy', steps: [step('Fine'), step(LOOP)] });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'invalid_template', field: 'steps.1.body' });
    expect(res.body.error.message).toMatch(/\{% for %\} is not available in emails/);
  });

  it('is refused when a step is added or edited', async () => {
    const { api, createSequence } = await asNewAccount(service);
    const sequence = await createSequence();
    const added = await api('POST', `/v1/sequences/${sequence.id}/steps`, step('{{ "now" | date: "%Y" }}'));
    expect([added.status, added.body.error.code, added.body.error.field]).toEqual([422, 'invalid_template', 'body']);
    const edited = await api('PATCH', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}`, {
      subject: '{% assign x = first_name %}',
    });
    expect([edited.status, edited.body.error.code, edited.body.error.field]).toEqual([422, 'invalid_template', 'subject']);
  });

  it(`with more than ${MAX_TEMPLATE_TAGS} merge tags is refused with the limit named`, async () => {
    const { api } = await asNewAccount(service);
    const res = await api('POST', '/v1/sequences', {
      name: 'Many tags',
      steps: [step('{{ first_name | default: "x" }}'.repeat(MAX_TEMPLATE_TAGS + 1))],
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'template_too_complex', field: 'steps.0.body' });
    expect(res.body.error.message).toContain(`at most ${MAX_TEMPLATE_TAGS}`);
  });

  it('whose output would outgrow the render memory limit is refused', async () => {
    const { api } = await asNewAccount(service);
    const res = await api('POST', '/v1/sequences', { name: 'Big', steps: [step(`{{ company | replace: "x", "${'y'.repeat(5_000)}" }}`)] });
    expect([res.status, res.body.error.code, res.body.error.field]).toEqual([422, 'invalid_template', 'steps.0.body']);
    expect(res.body.error.message).toMatch(/memory/);
  });

  it('is refused in a one-off email too, before anything is stored', async () => {
    const { api, createLead } = await asNewAccount(service);
    const lead = await createLead();
    const res = await api('POST', `/v1/leads/${lead.id}/emails`, { subject: 'Hi', body: LOOP });
    expect([res.status, res.body.error.code]).toEqual([422, 'invalid_template']);
  });
});

describe('what one request can make the API render', () => {
  it(`is at most ${MAX_STEPS_PER_REQUEST} steps per request`, async () => {
    const { api } = await asNewAccount(service);
    const res = await api('POST', '/v1/sequences', {
      name: 'Long',
      steps: Array.from({ length: MAX_STEPS_PER_REQUEST + 1 }, () => step('Hi')),
    });
    expect([res.status, res.body.error.field]).toEqual([400, 'steps']);
  });

  it(`is a body of at most ${MAX_BODY_LENGTH} characters`, async () => {
    const { api } = await asNewAccount(service);
    const res = await api('POST', '/v1/sequences', { name: 'Long body', steps: [step('x'.repeat(MAX_BODY_LENGTH + 1))] });
    expect([res.status, res.body.error.field]).toEqual([400, 'steps.0.body']);
  });

  it(`queues one account's previews one at a time and refuses past ${MAX_WAITING_RENDERS} waiting`, async () => {
    const { api, createSequence } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ body: `${'_a'.repeat(500)} {{ first_name | default: "there" }}` }] });
    const preview = () => api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}/preview`, {});
    const answers = await Promise.all(Array.from({ length: MAX_WAITING_RENDERS + 6 }, preview));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(MAX_WAITING_RENDERS);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(answers.find((a) => a.status === 429)!.body.error.code).toBe('render_busy');
    // Another account is not queued behind them.
    const other = await asNewAccount(service);
    const otherSequence = await other.createSequence();
    expect((await other.api('POST', `/v1/sequences/${otherSequence.id}/steps/${otherSequence.steps[0]!.id}/preview`, {})).status).toBe(200);
  });
});

describe('a step saved before these rules that no longer renders', () => {
  it('fails its enrolment at once, with the reason, instead of retrying the send for hours', async () => {
    const { api, createSequence, createLead, enrolLead, waitForStatus } = await asNewAccount(service);
    const sequence = await createSequence({ steps: [{ delay: { amount: 3, unit: 'days' } }] });
    const enrolment = await enrolLead(sequence.id, (await createLead()).id);
    // As an older release would have stored it; then the delay is shortened, so it falls due now.
    await service.database.db.update(steps).set({ body: LOOP }).where(eq(steps.id, sequence.steps[0]!.id));
    expect(
      (await api('PATCH', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}`, { delay: { amount: 0, unit: 'minutes' } })).status,
    ).toBe(200);
    const failed = await waitForStatus(enrolment.id, 'failed');
    expect(failed.endedReason).toMatch(/cannot be rendered: .*for %\} is not available/);
  });
});
