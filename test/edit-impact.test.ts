import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolments } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, startService, testConfig, type TestService } from './helpers/service.js';

// Issue 18: "the impact dry run matches what the edit then does". A dry run of an edit answers how
// many waiting enrolments would move, earlier or later; the edit is then saved, the enrolments
// plan again, and their new due times are compared with the old ones.

let service: TestService;
beforeAll(async () => {
  service = await startService({ config: await testConfig() });
});
afterAll(() => service?.stop());

const ZONES = ['UTC', 'Asia/Tokyo', 'America/Los_Angeles', 'Europe/Paris', 'Australia/Sydney', 'America/Sao_Paulo'];

async function waitingForStep2() {
  const acme = await asNewAccount(service, { timezone: 'UTC' });
  const sequence = await acme.createSequence({
    steps: [{ subject: 'One' }, { subject: 'Two', delay: { amount: 3, unit: 'days' }, inThread: false }],
  });
  const ids: string[] = [];
  for (const timezone of ZONES) ids.push((await acme.enrolLead(sequence.id, (await acme.createLead({ timezone })).id)).id);
  const rows = () => service.database.db.select().from(enrolments).where(inArray(enrolments.id, ids));
  const step2 = sequence.steps[1]!.id;
  const before = await eventually(
    async () => {
      const all = await rows();
      return all.every((e) => e.nextStepId === step2 && e.nextDueAt) ? all : undefined;
    },
    { what: 'every enrolment waiting for step 2' },
  );
  return { acme, sequence, ids, rows, before };
}

describe('a dry run of an edit', () => {
  it('says how many enrolments a new delay and window move, earlier or later, and the saved edit does that', async () => {
    const { acme, sequence, rows, before } = await waitingForStep2();
    const step2 = sequence.steps[1]!.id;
    const edit = { delay: { amount: 1, unit: 'days' }, sendWindow: { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' } };
    const dry = await acme.api('POST', `/v1/sequences/${sequence.id}/steps/${step2}/impact`, edit);
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body).toMatchObject({ enrolments: ZONES.length, nextStepChanged: 0, nothingNext: 0, paused: 0 });
    expect(dry.body.earlier + dry.body.later + dry.body.unchanged).toBe(ZONES.length);
    expect(dry.body.earlier).toBeGreaterThan(0);
    // Nothing changed yet.
    expect((await rows()).map((e) => e.nextDueAt!.getTime()).sort()).toEqual(before.map((e) => e.nextDueAt!.getTime()).sort());

    expect((await acme.api('PATCH', `/v1/sequences/${sequence.id}/steps/${step2}`, { delay: edit.delay })).status).toBe(200);
    expect((await acme.api('PATCH', `/v1/sequences/${sequence.id}`, { sendWindow: edit.sendWindow })).status).toBe(200);
    const was = new Map(before.map((e) => [e.id, e.nextDueAt!.getTime()]));
    const tally = async () => {
      const now = await rows();
      const count = (f: (a: number, b: number) => boolean) => now.filter((e) => f(e.nextDueAt!.getTime(), was.get(e.id)!)).length;
      // To the second, as the dry run judges.
      return {
        earlier: count((a, b) => a <= b - 1_000),
        later: count((a, b) => a >= b + 1_000),
        unchanged: count((a, b) => Math.abs(a - b) < 1_000),
      };
    };
    const expected = { earlier: dry.body.earlier, later: dry.body.later, unchanged: dry.body.unchanged };
    await eventually(async () => JSON.stringify(await tally()) === JSON.stringify(expected), {
      what: 'the enrolments planned as the dry run said',
    });
    // And it stays so once every re-plan is done.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await tally()).toEqual(expected);
    for (const example of dry.body.examples) {
      const [row] = (await rows()).filter((e) => e.id === example.enrolmentId);
      expect(Math.abs(row!.nextDueAt!.getTime() - Date.parse(example.to.dueAt))).toBeLessThan(1_000);
    }
  });

  it('says when a new order leaves nothing to send, and the saved order completes them', async () => {
    const { acme, sequence, ids } = await waitingForStep2();
    const [step1, step2] = sequence.steps.map((s) => s.id);
    const dry = await acme.api('POST', `/v1/sequences/${sequence.id}/steps/${step2}/impact`, { position: 1 });
    expect(dry.body).toMatchObject({ enrolments: ZONES.length, moved: ZONES.length, nothingNext: ZONES.length });
    expect((await acme.api('PUT', `/v1/sequences/${sequence.id}/steps/order`, { stepIds: [step2, step1] })).status).toBe(200);
    for (const id of ids) await acme.waitForStatus(id, 'completed');
  });

  it('refuses an empty edit and a step of another sequence', async () => {
    const { acme, sequence } = await waitingForStep2();
    const other = await acme.createSequence();
    const empty = await acme.api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[1]!.id}/impact`, {});
    expect(empty.status).toBe(400);
    const foreign = await acme.api('POST', `/v1/sequences/${sequence.id}/steps/${other.steps[0]!.id}/impact`, { position: 1 });
    expect(foreign.status).toBe(404);
  });
});
