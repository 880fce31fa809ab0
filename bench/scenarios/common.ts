import type { Sql } from 'postgres';
import type { apiClient } from '../../test/helpers/service.js';
import { until } from '../stats.js';

export type Api = ReturnType<typeof apiClient>;

/** The API calls every scenario makes to set itself up, in the product's own words. */
const CHUNK = 10_000; // the API's per-request limit for imports and bulk enrolments

export async function createSequence(api: Api, steps: { delayMinutes: number }[]): Promise<string> {
  const res = await api('POST', '/v1/sequences', {
    name: 'Bench',
    steps: steps.map((s, i) => ({
      subject: `Step ${i + 1} for {{ first_name | default: "you" }}`,
      body: 'Hello **{{ first_name | default: "there" }}**',
      delay: { amount: s.delayMinutes, unit: 'minutes' },
    })),
  });
  if (res.status !== 201) throw new Error(`create sequence: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export async function importLeads(api: Api, count: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let from = 0; from < count; from += CHUNK) {
    const leads = Array.from({ length: Math.min(CHUNK, count - from) }, (_, i) => ({
      email: `${prefix}-${from + i}@bench.test`,
      firstName: `Lead${from + i}`,
    }));
    const res = await api('POST', '/v1/leads/import', { leads });
    if (res.status !== 200 && res.status !== 201) throw new Error(`import: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    ids.push(...res.body.results.map((r: { id: string }) => r.id));
  }
  return ids;
}

export async function enrolAll(api: Api, sequenceId: string, leadIds: string[], chunk = CHUNK): Promise<void> {
  for (let from = 0; from < leadIds.length; from += chunk) {
    const res = await api('POST', `/v1/sequences/${sequenceId}/enrolments/bulk`, { leadIds: leadIds.slice(from, from + chunk) });
    if (res.status >= 300) throw new Error(`bulk enrol: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  }
}

/** Waits until `size` enrolments have planned their next step and sleep until it is due. */
export const untilAsleep = (sql: Sql, size: number) =>
  until(
    async () => Number((await sql`select count(*) as n from enrolments where next_due_at is not null`)[0]!.n) >= size,
    `${size} enrolments asleep`,
    4 * 60 * 60_000,
    1_000,
  );
