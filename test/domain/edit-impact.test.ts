import { describe, expect, it } from 'vitest';
import { editedSteps, editImpact, type ImpactEnrolment } from '../../domain/edit-impact.js';
import { NO_DAYS_OFF } from '../../domain/holidays.js';

const steps = [
  { id: 'a', position: 1, delay: { amount: 0, unit: 'days' as const } },
  { id: 'b', position: 2, delay: { amount: 3, unit: 'days' as const } },
  { id: 'c', position: 3, delay: { amount: 2, unit: 'days' as const } },
];
const sentA = new Date('2026-12-01T10:00:00Z');
const waitingForB = (id: string): ImpactEnrolment => ({
  id,
  sent: [{ stepId: 'a', position: 1 }],
  previousAt: sentA,
  planned: { stepId: 'b', dueAt: new Date('2026-12-04T10:00:00Z') },
  zone: 'UTC',
  daysOff: NO_DAYS_OFF,
});

describe('the steps an edit leaves', () => {
  it('moves a step to its new place and renumbers the others', () => {
    expect(editedSteps(steps, { stepId: 'c', position: 1 }).map((s) => `${s.id}${s.position}`)).toEqual(['c1', 'a2', 'b3']);
    expect(editedSteps(steps, { stepId: 'a', position: 99 }).map((s) => s.id)).toEqual(['b', 'c', 'a']);
  });
});

describe('the impact of an edit', () => {
  it('counts a shorter delay as earlier, a window that holds it as later, and nothing else as unchanged', () => {
    expect(
      editImpact({ steps, window: null, enrolments: [waitingForB('x')], edit: { stepId: 'b', delay: { amount: 1, unit: 'days' } } }),
    ).toMatchObject({
      moved: 1,
      earlier: 1,
      examples: [{ enrolmentId: 'x', to: { stepId: 'b', dueAt: '2026-12-02T10:00:00.000Z' } }],
    });
    // 4 December 2026 is a Friday: a weekend-only window holds it to Saturday 12:00.
    const weekend = { days: [6, 7], start: '12:00', end: '18:00' };
    expect(editImpact({ steps, window: null, enrolments: [waitingForB('x')], edit: { stepId: 'b', sendWindow: weekend } })).toMatchObject({
      later: 1,
    });
    expect(
      editImpact({ steps, window: null, enrolments: [waitingForB('x')], edit: { stepId: 'c', delay: { amount: 9, unit: 'days' } } }),
    ).toMatchObject({
      moved: 0,
      unchanged: 1,
    });
  });

  it('sees another step come next when the order changes', () => {
    const impact = editImpact({ steps, window: null, enrolments: [waitingForB('x')], edit: { stepId: 'c', position: 2 } });
    expect(impact).toMatchObject({ moved: 1, nextStepChanged: 1, earlier: 1 });
    expect(impact.examples[0]!.to).toEqual({ stepId: 'c', dueAt: '2026-12-03T10:00:00.000Z' });
  });
});
