import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { enrolments, messages } from '../../db/schema.js';
import { apiClient, createTestAccount, eventually, type TestService } from './service.js';

type StepSpec = { subject?: string; body?: string; delay?: { amount: number; unit: string }; inThread?: boolean };

/**
 * One account's view of the service under test, with the small helpers specifications are
 * written in: createSequence, createLead, enrolLead, waitForStatus.
 */
export async function asNewAccount(service: TestService, accountValues: Record<string, unknown> = {}) {
  const { account, apiKey } = await createTestAccount(service, { name: `Account ${randomUUID().slice(0, 8)}`, ...accountValues });
  const api = apiClient(service.baseUrl, apiKey);
  const db = service.database.db;

  async function createSequence(
    spec: { name?: string; steps?: StepSpec[]; onReply?: string; sendWindow?: unknown; skipHolidays?: boolean } = {},
  ) {
    const res = await api('POST', '/v1/sequences', {
      name: spec.name ?? 'Post-event follow-up',
      ...(spec.skipHolidays !== undefined ? { skipHolidays: spec.skipHolidays } : {}),
      ...(spec.onReply ? { onReply: spec.onReply } : {}),
      ...(spec.sendWindow ? { sendWindow: spec.sendWindow } : {}),
      steps: (spec.steps ?? [{}]).map((s, i) => ({
        subject: s.subject ?? `Step ${i + 1} for {{ first_name | default: "you" }}`,
        body: s.body ?? `Hello {{ first_name | default: "there" }}, this is step ${i + 1}.`,
        delay: s.delay ?? { amount: 0, unit: 'minutes' },
        ...(s.inThread !== undefined ? { inThread: s.inThread } : {}),
      })),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; steps: { id: string; position: number; subject: string }[] };
  }

  async function createLead(values: Record<string, unknown> = {}) {
    const res = await api('POST', '/v1/leads', { email: `lead-${randomUUID()}@example.com`, firstName: 'Ada', ...values });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; email: string };
  }

  async function enrolLead(sequenceId: string, leadId: string) {
    const res = await api('POST', `/v1/sequences/${sequenceId}/enrolments`, { leadId });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; status: string };
  }

  async function enrolmentRow(id: string) {
    const [row] = await db.select().from(enrolments).where(eq(enrolments.id, id));
    return row!;
  }

  async function waitForStatus(id: string, status: string, timeoutMs = 20_000) {
    return eventually(async () => ((await enrolmentRow(id)).status === status ? enrolmentRow(id) : undefined), {
      timeoutMs,
      what: `enrolment ${id} to be ${status} (is ${(await enrolmentRow(id)).status})`,
    });
  }

  async function sentMessages(enrolmentId: string) {
    return db.select().from(messages).where(eq(messages.enrolmentId, enrolmentId)).orderBy(messages.createdAt);
  }

  return { account, apiKey, api, createSequence, createLead, enrolLead, enrolmentRow, waitForStatus, sentMessages };
}
