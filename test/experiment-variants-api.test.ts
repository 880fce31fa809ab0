import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { variantAssignments, type VariantStatus } from '../db/schema.js';
import { assignable, chooseVariant, inHoldout } from '../domain/experiment.js';
import { enrolmentWorkflowId, stateQuery } from '../workflows/contract.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, startService, type TestService } from './helpers/service.js';

/**
 * The API through which a portal runs an experiment on a step (issue 20): variants of a step,
 * edited, removed, one declared the winner, and the sequence's holdout. Planning and sending
 * are the real ones: a variant is assigned when its step is planned for an enrolment.
 */
let service: TestService;
beforeAll(async () => {
  service = await startService();
});
afterAll(() => service.stop());

type Variant = {
  id: string;
  label: string;
  subject: string;
  body: string;
  weight: number;
  status: VariantStatus;
  endedReason: string | null;
  endedAt: string | null;
};
type Step = { id: string; subject: string; body: string; variants: Variant[]; winnerVariantId: string | null; moved?: number };

const DAYS_3 = { amount: 3, unit: 'days' };
const NOW = { amount: 0, unit: 'minutes' };
const variant = (label: string, weight?: number) => ({
  subject: `Subject ${label} for {{ first_name | default: "you" }}`,
  body: `Body ${label}, {{ first_name | default: "there" }}.`,
  ...(weight === undefined ? {} : { weight }),
});
/** A send window twelve hours from now (UTC, the account's and the leads' zone): a step planned now waits. */
function windowFarFromNow() {
  const hour = String((new Date().getUTCHours() + 12) % 24).padStart(2, '0');
  return { days: [1, 2, 3, 4, 5, 6, 7], start: `${hour}:00`, end: `${hour}:30` };
}

async function experimenter() {
  const fixture = await asNewAccount(service);
  const { api } = fixture;
  const db = service.database.db;

  async function createSequence(steps: unknown[], extra: Record<string, unknown> = {}) {
    const res = await api('POST', '/v1/sequences', { name: 'Experiment', steps, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; holdoutPercent: number; steps: Step[] };
  }
  /** A sequence whose first step is an experiment with these variants. */
  async function experiment(variants: unknown[], delay = DAYS_3) {
    const sequence = await createSequence([{ delay, variants }]);
    return { sequence, step: sequence.steps[0]! };
  }
  const stepPath = (sequenceId: string, stepId: string) => `/v1/sequences/${sequenceId}/steps/${stepId}`;
  const variantPath = (sequenceId: string, stepId: string, variantId: string) => `${stepPath(sequenceId, stepId)}/variants/${variantId}`;

  async function getStep(sequenceId: string, stepId: string): Promise<Step> {
    const res = await api('GET', `/v1/sequences/${sequenceId}`);
    return (res.body.steps as Step[]).find((s) => s.id === stepId)!;
  }
  async function enrolNewLead(sequenceId: string) {
    return fixture.enrolLead(sequenceId, (await fixture.createLead()).id);
  }
  async function assignmentsOf(stepId: string) {
    return db.select().from(variantAssignments).where(eq(variantAssignments.stepId, stepId));
  }
  /** Waits for planning to assign each enrolment a variant of the step. */
  async function waitForAssignments(stepId: string, enrolmentIds: string[]) {
    return eventually(
      async () => {
        const rows = await db
          .select()
          .from(variantAssignments)
          .where(and(eq(variantAssignments.stepId, stepId), inArray(variantAssignments.enrolmentId, enrolmentIds)));
        return rows.length === enrolmentIds.length ? new Map(rows.map((r) => [r.enrolmentId, r.variantId])) : undefined;
      },
      { what: `${enrolmentIds.length} assignments` },
    );
  }

  /**
   * An experiment on step 1 with an email already sent (as `sent.variantId`) and enrolments
   * waiting for step 1 behind a send window, assigned but unsent: enough of them that at least
   * two are on `crowd` (a variant chosen from the sent one by `pickCrowd`).
   */
  async function experimentUnderWay(variants: unknown[], pickCrowd: (sentVariantId: string, step: Step) => string) {
    const { sequence, step } = await experiment(variants, NOW);
    const first = await enrolNewLead(sequence.id);
    const [email] = await eventually(async () => {
      const sent = await fixture.sentMessages(first.id);
      return sent.length ? sent : undefined;
    });
    expect(email!.variantId).not.toBeNull();
    const sent = { enrolmentId: first.id, variantId: email!.variantId! };
    expect((await api('PATCH', `/v1/sequences/${sequence.id}`, { sendWindow: windowFarFromNow() })).status).toBe(200);
    const crowd = pickCrowd(sent.variantId, step);
    const waiting: string[] = [];
    // Assignment is a hash of enrolment and step: enrol until the crowd is there (a handful).
    while (waiting.filter((id) => chooseVariant(id, step.id, step.variants)!.id === crowd).length < 2 || waiting.length < 6) {
      expect(waiting.length, 'enrolments needed for the crowd').toBeLessThan(40);
      waiting.push((await enrolNewLead(sequence.id)).id);
    }
    const assigned = await waitForAssignments(step.id, [sent.enrolmentId, ...waiting]);
    expect(await fixture.sentMessages(waiting[0]!)).toEqual([]);
    return { sequence, step, sent, waiting, crowd, assigned };
  }

  return {
    ...fixture,
    db,
    createSequence,
    experiment,
    stepPath,
    variantPath,
    getStep,
    enrolNewLead,
    assignmentsOf,
    waitForAssignments,
    experimentUnderWay,
  };
}

describe('a step created with variants', () => {
  it('labels them A, B, C in order, weight 1 by default, and keeps variant A’s subject and body as its own', async () => {
    const { experiment, getStep } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B', 3), variant('C')]);
    expect(step.variants.map((v) => [v.label, v.subject, v.weight, v.status, v.endedReason, v.endedAt])).toEqual([
      ['A', variant('A').subject, 1, 'active', null, null],
      ['B', variant('B').subject, 3, 'active', null, null],
      ['C', variant('C').subject, 1, 'active', null, null],
    ]);
    expect(step).toMatchObject({ subject: variant('A').subject, body: variant('A').body, winnerVariantId: null });
    expect(await getStep(sequence.id, step.id)).toEqual(step);
  });

  it('is added to a sequence through POST …/steps the same way', async () => {
    const { api, createSequence } = await experimenter();
    const sequence = await createSequence([{ subject: 'Plain', body: 'A plain step', delay: DAYS_3 }]);
    const res = await api('POST', `/v1/sequences/${sequence.id}/steps`, { delay: DAYS_3, variants: [variant('A'), variant('B')] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.variants.map((v: Variant) => v.label)).toEqual(['A', 'B']);
    expect(res.body.subject).toBe(variant('A').subject);
  });

  it('is listed with its variants in every sequence of the account', async () => {
    const { api, experiment } = await experimenter();
    const one = await experiment([variant('A'), variant('B')]);
    const two = await experiment([variant('A'), variant('B'), variant('C')]);
    const listed = (await api('GET', '/v1/sequences')).body.data as { id: string; steps: Step[] }[];
    const labels = (id: string) => listed.find((s) => s.id === id)!.steps[0]!.variants.map((v) => v.label);
    expect(labels(one.sequence.id)).toEqual(['A', 'B']);
    expect(labels(two.sequence.id)).toEqual(['A', 'B', 'C']);
  });

  it('refuses the step’s own subject or body beside variants, naming the field', async () => {
    const { api } = await experimenter();
    const res = await api('POST', '/v1/sequences', {
      name: 'Both',
      steps: [{ subject: 'Mine', delay: DAYS_3, variants: [variant('A'), variant('B')] }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', field: 'steps.0.subject' });
  });

  it('refuses fewer than two or more than five variants', async () => {
    const { api } = await experimenter();
    for (const variants of [[variant('A')], ['A', 'B', 'C', 'D', 'E', 'F'].map((l) => variant(l))]) {
      const res = await api('POST', '/v1/sequences', { name: 'Count', steps: [{ delay: DAYS_3, variants }] });
      expect(res.status, `${variants.length} variants`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_error', field: 'steps.0.variants' });
    }
  });

  it('refuses a weight outside 1–100 or not whole, naming the variant', async () => {
    const { api } = await experimenter();
    for (const weight of [0, 101, 1.5]) {
      const res = await api('POST', '/v1/sequences', {
        name: 'Weights',
        steps: [{ delay: DAYS_3, variants: [variant('A'), variant('B', weight)] }],
      });
      expect(res.status, `weight ${weight}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_error', field: 'steps.0.variants.1.weight' });
    }
  });

  it('checks each variant’s template when saved, naming the variant’s field', async () => {
    const { api, createSequence } = await experimenter();
    const bad = { subject: 'Fine', body: 'Hello {{ favourite_colour }}' };
    const created = await api('POST', '/v1/sequences', { name: 'Tags', steps: [{ delay: DAYS_3, variants: [variant('A'), bad] }] });
    expect(created.status).toBe(422);
    expect(created.body.error).toMatchObject({ code: 'unknown_merge_tag', field: 'steps.0.variants.1.body' });
    const sequence = await createSequence([{ subject: 'Plain', body: 'Plain', delay: DAYS_3 }]);
    const added = await api('POST', `/v1/sequences/${sequence.id}/steps`, { delay: DAYS_3, variants: [bad, variant('B')] });
    expect(added.status).toBe(422);
    expect(added.body.error).toMatchObject({ code: 'unknown_merge_tag', field: 'variants.0.body' });
    expect((await api('GET', `/v1/sequences/${sequence.id}`)).body.steps).toHaveLength(1);
  });

  it('makes enrolment ask for the merge fields of every variant, not only variant A’s', async () => {
    const { api, experiment, createLead } = await experimenter();
    const { sequence } = await experiment([variant('A'), { subject: 'For {{ company }}', body: 'Hello' }]);
    const lead = await createLead({ company: '' });
    const res = await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'missing_merge_fields', message: expect.stringContaining('company') });
  });
});

describe('a plain step given its first variant', () => {
  it('becomes an A/B test: its own subject and body are variant A, the new one B', async () => {
    const { api, createSequence, stepPath } = await experimenter();
    const sequence = await createSequence([
      { subject: 'Original {{ first_name | default: "you" }}', body: 'Original body', delay: DAYS_3 },
    ]);
    const plain = sequence.steps[0]!;
    expect(plain.variants).toEqual([]);
    const res = await api('POST', `${stepPath(sequence.id, plain.id)}/variants`, { ...variant('B'), weight: 4 });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.variants.map((v: Variant) => [v.label, v.subject, v.body, v.weight])).toEqual([
      ['A', plain.subject, plain.body, 1],
      ['B', variant('B').subject, variant('B').body, 4],
    ]);
    expect(res.body).toMatchObject({ subject: plain.subject, body: plain.body });
  });

  it('takes the next label when more are added, up to five', async () => {
    const { api, experiment, stepPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B')]);
    const labels = [];
    for (const label of ['C', 'D', 'E']) {
      const res = await api('POST', `${stepPath(sequence.id, step.id)}/variants`, variant(label));
      expect(res.status).toBe(201);
      labels.push(res.body.variants.at(-1).label);
    }
    expect(labels).toEqual(['C', 'D', 'E']);
    const sixth = await api('POST', `${stepPath(sequence.id, step.id)}/variants`, variant('F'));
    expect(sixth.status).toBe(409);
    expect(sixth.body.error.code).toBe('too_many_variants');
  });

  it('may also become one through PATCH with variants, after which its own subject is changed through its variants', async () => {
    const { api, createSequence, stepPath } = await experimenter();
    const sequence = await createSequence([{ subject: 'Plain', body: 'Plain', delay: DAYS_3 }]);
    const path = stepPath(sequence.id, sequence.steps[0]!.id);
    const patched = await api('PATCH', path, { variants: [variant('A'), variant('B')] });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ subject: variant('A').subject, variants: [{ label: 'A' }, { label: 'B' }] });
    for (const change of [{ subject: 'Changed' }, { variants: [variant('C'), variant('D')] }]) {
      const refused = await api('PATCH', path, change);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: 'step_has_variants', field: Object.keys(change)[0] });
    }
    // The delay is the step's own, whatever its variants.
    expect((await api('PATCH', path, { delay: { amount: 5, unit: 'days' } })).body.delay).toEqual({ amount: 5, unit: 'days' });
  });
});

describe('editing a variant', () => {
  it('changes its content and weight; the step follows the variant it mirrors, and only that one', async () => {
    const { api, experiment, variantPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B')]);
    const [a, b] = step.variants;
    const editB = await api('PATCH', variantPath(sequence.id, step.id, b!.id), { body: 'New body B', weight: 7 });
    expect(editB.status, JSON.stringify(editB.body)).toBe(200);
    expect(editB.body.variants[1]).toMatchObject({ label: 'B', subject: b!.subject, body: 'New body B', weight: 7 });
    expect(editB.body).toMatchObject({ subject: a!.subject, body: a!.body });
    const editA = await api('PATCH', variantPath(sequence.id, step.id, a!.id), { subject: 'New subject A' });
    expect(editA.body).toMatchObject({ subject: 'New subject A', body: a!.body });
  });

  it('goes out as edited in the emails not sent yet', async () => {
    const { api, experiment, variantPath, enrolNewLead, waitForAssignments, sentMessages } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B')], NOW);
    expect((await api('PATCH', `/v1/sequences/${sequence.id}`, { sendWindow: windowFarFromNow() })).status).toBe(200);
    const enrolment = await enrolNewLead(sequence.id);
    const assigned = (await waitForAssignments(step.id, [enrolment.id])).get(enrolment.id)!;
    for (const v of step.variants) {
      const res = await api('PATCH', variantPath(sequence.id, step.id, v.id), { subject: `Edited ${v.label} for {{ first_name }}` });
      expect(res.status).toBe(200);
    }
    // The window lifted, the waiting step is due now.
    expect((await api('PATCH', `/v1/sequences/${sequence.id}`, { sendWindow: null })).status).toBe(200);
    const [email] = await eventually(async () => {
      const sent = await sentMessages(enrolment.id);
      return sent.length ? sent : undefined;
    });
    const label = step.variants.find((v) => v.id === assigned)!.label;
    expect(email).toMatchObject({ variantId: assigned, subject: `Edited ${label} for Ada` });
  });

  it('refuses a variant that was removed, and a change of nothing', async () => {
    const { api, experiment, variantPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B'), variant('C')]);
    const c = step.variants[2]!;
    expect((await api('DELETE', variantPath(sequence.id, step.id, c.id))).status).toBe(200);
    const refused = await api('PATCH', variantPath(sequence.id, step.id, c.id), { subject: 'Back again' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('variant_ended');
    const empty = await api('PATCH', variantPath(sequence.id, step.id, step.variants[0]!.id), {});
    expect(empty.status).toBe(400);
  });

  it('refuses a weight outside 1–100, naming the field', async () => {
    const { api, experiment, stepPath, variantPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B')]);
    const patched = await api('PATCH', variantPath(sequence.id, step.id, step.variants[0]!.id), { weight: 0 });
    expect(patched.status).toBe(400);
    expect(patched.body.error).toMatchObject({ code: 'validation_error', field: 'weight' });
    const added = await api('POST', `${stepPath(sequence.id, step.id)}/variants`, { ...variant('C'), weight: 101 });
    expect(added.status).toBe(400);
    expect(added.body.error).toMatchObject({ code: 'validation_error', field: 'weight' });
  });
});

describe('removing a variant', () => {
  it('moves its enrolments whose email is unsent to the variants left, by weight; the email already sent keeps its variant', async () => {
    const { api, variantPath, assignmentsOf, experimentUnderWay } = await experimenter();
    const { sequence, step, sent, crowd, assigned } = await experimentUnderWay(
      [variant('A', 1), variant('B', 1), variant('C', 2)],
      (sentVariantId) => sentVariantId,
    );
    const removed = await api('DELETE', variantPath(sequence.id, step.id, crowd));
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const unsentOnIt = [...assigned].filter(([id, v]) => v === crowd && id !== sent.enrolmentId).map(([id]) => id);
    expect(unsentOnIt.length).toBeGreaterThanOrEqual(2);
    expect(removed.body.moved).toBe(unsentOnIt.length);

    const after = new Map((await assignmentsOf(step.id)).map((r) => [r.enrolmentId, r]));
    expect(after.get(sent.enrolmentId)).toMatchObject({ variantId: crowd, movedAt: null });
    const left = (removed.body as Step).variants;
    for (const id of unsentOnIt) {
      expect(after.get(id)!.variantId).toBe(chooseVariant(id, step.id, left, crowd)!.id);
      expect(after.get(id)!.movedAt).not.toBeNull();
    }
    for (const [id, v] of assigned) if (v !== crowd) expect(after.get(id)).toMatchObject({ variantId: v, movedAt: null });
  });

  it('keeps it in the step’s record as removed, and the step mirrors the first variant left', async () => {
    const { api, experiment, variantPath, getStep } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B'), variant('C')]);
    const res = await api('DELETE', variantPath(sequence.id, step.id, step.variants[0]!.id));
    expect(res.status).toBe(200);
    expect(res.body.moved).toBe(0);
    expect(res.body.variants[0]).toMatchObject({
      label: 'A',
      status: 'removed',
      endedReason: 'removed by a user',
      endedAt: expect.any(String),
    });
    expect(res.body).toMatchObject({ subject: variant('B').subject, body: variant('B').body });
    const { moved: _moved, ...stepOnly } = res.body as Step;
    expect(await getStep(sequence.id, step.id)).toEqual(stepOnly);
  });

  it('refuses the last variant the step can send', async () => {
    const { api, experiment, variantPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B')]);
    expect((await api('DELETE', variantPath(sequence.id, step.id, step.variants[0]!.id))).status).toBe(200);
    const last = await api('DELETE', variantPath(sequence.id, step.id, step.variants[1]!.id));
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('last_variant');
  });

  it('still counts toward the five a step may have', async () => {
    const { api, experiment, stepPath, variantPath } = await experimenter();
    const { sequence, step } = await experiment(['A', 'B', 'C', 'D', 'E'].map((l) => variant(l)));
    expect((await api('DELETE', variantPath(sequence.id, step.id, step.variants[4]!.id))).status).toBe(200);
    const res = await api('POST', `${stepPath(sequence.id, step.id)}/variants`, variant('F'));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('too_many_variants');
  });
});

describe('declaring a winner', () => {
  it('sends every unsent enrolment as the winner, the others lose with the reason, and the step mirrors it', async () => {
    const { api, variantPath, assignmentsOf, experimentUnderWay } = await experimenter();
    // The winner is a variant the sent email did not go as; the crowd that moves is on the others.
    let winnerId = '';
    const { sequence, step, sent, assigned } = await experimentUnderWay([variant('A'), variant('B'), variant('C')], (sentVariantId, s) => {
      winnerId = s.variants.find((v) => v.id !== sentVariantId)!.id;
      return s.variants.find((v) => v.id !== winnerId && v.id !== sentVariantId)!.id;
    });
    const winner = step.variants.find((v) => v.id === winnerId)!;
    const res = await api('POST', `${variantPath(sequence.id, step.id, winner.id)}/winner`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const unsentElsewhere = [...assigned].filter(([id, v]) => v !== winner.id && id !== sent.enrolmentId).map(([id]) => id);
    expect(res.body.moved).toBe(unsentElsewhere.length);
    expect(res.body).toMatchObject({ winnerVariantId: winner.id, subject: winner.subject, body: winner.body });
    for (const v of res.body.variants as Variant[]) {
      if (v.id === winner.id) expect(v).toMatchObject({ status: 'winner', endedReason: null, endedAt: null });
      else expect(v).toMatchObject({ status: 'lost', endedReason: `lost to variant ${winner.label}`, endedAt: expect.any(String) });
    }
    const after = new Map((await assignmentsOf(step.id)).map((r) => [r.enrolmentId, r.variantId]));
    expect(after.get(sent.enrolmentId)).toBe(sent.variantId);
    for (const [id] of assigned) if (id !== sent.enrolmentId) expect(after.get(id)).toBe(winner.id);
  });

  it('makes the waiting enrolments plan again: their next step names the winner', async () => {
    const { api, experiment, variantPath, enrolNewLead, waitForAssignments } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B')]);
    const enrolments = [await enrolNewLead(sequence.id), await enrolNewLead(sequence.id), await enrolNewLead(sequence.id)];
    await waitForAssignments(
      step.id,
      enrolments.map((e) => e.id),
    );
    const winner = step.variants[1]!;
    expect((await api('POST', `${variantPath(sequence.id, step.id, winner.id)}/winner`)).status).toBe(200);
    for (const enrolment of enrolments) {
      const handle = service.temporal.workflow.getHandle(enrolmentWorkflowId(enrolment.id));
      await eventually(async () => (await handle.query(stateQuery)).nextStep?.variant?.label === 'B', {
        what: `enrolment ${enrolment.id} to plan variant B`,
      });
    }
  });

  it('is once only, and a decided step takes no new variant', async () => {
    const { api, experiment, stepPath, variantPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B'), variant('C')]);
    const [a, b] = step.variants;
    expect((await api('POST', `${variantPath(sequence.id, step.id, a!.id)}/winner`)).status).toBe(200);
    const again = await api('POST', `${variantPath(sequence.id, step.id, b!.id)}/winner`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('experiment_decided');
    const added = await api('POST', `${stepPath(sequence.id, step.id)}/variants`, variant('D'));
    expect(added.status).toBe(409);
    expect(added.body.error.code).toBe('experiment_decided');
    const removeWinner = await api('DELETE', variantPath(sequence.id, step.id, a!.id));
    expect(removeWinner.body.error.code).toBe('last_variant');
    // The winner may still be edited; the step follows it.
    const edited = await api('PATCH', variantPath(sequence.id, step.id, a!.id), { subject: 'Winning subject' });
    expect(edited.body).toMatchObject({ subject: 'Winning subject', winnerVariantId: a!.id });
  });

  it('refuses a variant that is no longer active', async () => {
    const { api, experiment, variantPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B'), variant('C')]);
    const c = step.variants[2]!;
    expect((await api('DELETE', variantPath(sequence.id, step.id, c.id))).status).toBe(200);
    const res = await api('POST', `${variantPath(sequence.id, step.id, c.id)}/winner`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('variant_ended');
  });
});

describe('the variants of another account’s step', () => {
  it('are not found, whichever ids are mixed', async () => {
    const owner = await experimenter();
    const stranger = await experimenter();
    const theirs = await owner.experiment([variant('A'), variant('B')]);
    const mine = await stranger.experiment([variant('A'), variant('B')]);
    const theirVariant = theirs.step.variants[0]!.id;
    const paths = [
      stranger.variantPath(theirs.sequence.id, theirs.step.id, theirVariant),
      stranger.variantPath(mine.sequence.id, theirs.step.id, theirVariant),
      stranger.variantPath(mine.sequence.id, mine.step.id, theirVariant),
    ];
    for (const path of paths) {
      for (const [method, suffix, body] of [
        ['PATCH', '', { subject: 'Mine now' }],
        ['DELETE', '', undefined],
        ['POST', '/winner', undefined],
      ] as const) {
        const res = await stranger.api(method, `${path}${suffix}`, body);
        expect(res.status, `${method} ${path}${suffix}`).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
    }
    const add = await stranger.api('POST', `${stranger.stepPath(theirs.sequence.id, theirs.step.id)}/variants`, variant('C'));
    expect(add.status).toBe(404);
    expect(await owner.getStep(theirs.sequence.id, theirs.step.id)).toEqual(theirs.step);
  });

  it('are refused on an archived sequence like any other step change', async () => {
    const { api, experiment, stepPath, variantPath } = await experimenter();
    const { sequence, step } = await experiment([variant('A'), variant('B')]);
    expect((await api('POST', `/v1/sequences/${sequence.id}/archive`)).status).toBe(202);
    for (const [method, path] of [
      ['POST', `${stepPath(sequence.id, step.id)}/variants`],
      ['PATCH', variantPath(sequence.id, step.id, step.variants[0]!.id)],
      ['DELETE', variantPath(sequence.id, step.id, step.variants[0]!.id)],
      ['POST', `${variantPath(sequence.id, step.id, step.variants[0]!.id)}/winner`],
    ] as const) {
      const res = await api(method, path, method === 'DELETE' || path.endsWith('/winner') ? undefined : variant('C'));
      expect(res.status, `${method} ${path}`).toBe(409);
      expect(res.body.error.code).toBe('sequence_archived');
    }
  });
});

describe('the holdout', () => {
  it('is a whole share of 0–50 % of the sequence, 0 unless set', async () => {
    const { api, createSequence } = await experimenter();
    expect((await createSequence([])).holdoutPercent).toBe(0);
    const sequence = await createSequence([], { holdoutPercent: 30 });
    expect(sequence.holdoutPercent).toBe(30);
    for (const holdoutPercent of [51, -1, 12.5, '10']) {
      const res = await api('PATCH', `/v1/sequences/${sequence.id}`, { holdoutPercent });
      expect(res.status, `holdoutPercent ${holdoutPercent}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_error', field: 'holdoutPercent' });
    }
    expect((await api('PATCH', `/v1/sequences/${sequence.id}`, { holdoutPercent: 10 })).body.holdoutPercent).toBe(10);
    expect((await api('GET', `/v1/sequences/${sequence.id}`)).body.holdoutPercent).toBe(10);
    const created = await api('POST', '/v1/sequences', { name: 'Too many held out', holdoutPercent: 60 });
    expect(created.body.error).toMatchObject({ code: 'validation_error', field: 'holdoutPercent' });
  });

  it('is decided at an enrolment’s first plan and shown with the enrolment', async () => {
    const { api, createSequence, enrolNewLead } = await experimenter();
    const sequence = await createSequence(
      [
        { subject: 'One', body: 'One', delay: DAYS_3 },
        { subject: 'Two', body: 'Two', delay: DAYS_3 },
      ],
      { holdoutPercent: 50 },
    );
    const enrolments = [];
    for (let i = 0; i < 4; i++) enrolments.push(await enrolNewLead(sequence.id));
    for (const enrolment of enrolments) {
      const shown = await eventually(async () => {
        const res = await api('GET', `/v1/enrolments/${enrolment.id}`);
        return res.body.holdout === null ? undefined : res.body;
      });
      expect(shown.holdout).toBe(inHoldout(enrolment.id, 50));
    }
    const listed = (await api('GET', `/v1/sequences/${sequence.id}/enrolments`)).body.data as { id: string; holdout: boolean }[];
    for (const enrolment of enrolments) expect(listed.find((e) => e.id === enrolment.id)!.holdout).toBe(inHoldout(enrolment.id, 50));
  });
});

describe('an enrolment in an experiment', () => {
  it('shows the variant it gets of each experiment step', async () => {
    const { api, createSequence, enrolNewLead, waitForAssignments } = await experimenter();
    const sequence = await createSequence([{ delay: DAYS_3, variants: [variant('A'), variant('B'), variant('C')] }]);
    const step = sequence.steps[0]!;
    const enrolment = await enrolNewLead(sequence.id);
    const assigned = (await waitForAssignments(step.id, [enrolment.id])).get(enrolment.id)!;
    const detail = await api('GET', `/v1/enrolments/${enrolment.id}`);
    const label = step.variants.find((v) => v.id === assigned)!.label;
    expect(detail.body.variants).toEqual([{ stepId: step.id, variantId: assigned, label }]);
    expect(assignable(step.variants).map((v) => v.id)).toContain(assigned);
  });

  it('shows no variants when it is in none', async () => {
    const { api, createSequence, enrolNewLead } = await experimenter();
    const sequence = await createSequence([{ subject: 'Plain', body: 'Plain', delay: DAYS_3 }]);
    const enrolment = await enrolNewLead(sequence.id);
    const detail = await api('GET', `/v1/enrolments/${enrolment.id}`);
    expect(detail.body.variants).toEqual([]);
    expect(detail.body.id).toBe(enrolment.id);
  });
});
