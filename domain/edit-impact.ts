import type { SendWindow } from '../db/schema.js';
import type { HolidayCalendar } from './holidays.js';
import { nextStep, stepSchedule, type Delay } from './schedule.js';

// "What would this edit do?" before the user saves it: each live enrolment's next email as the
// plan makes it now, and as the plan would make it with the edited delay, window or order (the
// same rules: the next step after the last sent in the order, its delay from the previous send,
// the window and the days off).

const SAME_TIME_MS = 1_000;

export interface ImpactStep {
  id: string;
  position: number;
  delay: Delay;
}

export interface ImpactEnrolment {
  id: string;
  /** The steps it was sent, in the order they went, with their positions then. */
  sent: { stepId: string; position: number }[];
  previousAt: Date;
  /** Its next email as planned now (step and time); null: nothing planned. */
  planned: { stepId: string; dueAt: Date } | null;
  zone: string;
  daysOff: HolidayCalendar;
}

export interface Edit {
  stepId: string;
  delay?: Delay;
  /** The step's new place, from 1. */
  position?: number;
  /** The sequence's new window (null: none); absent: unchanged. */
  sendWindow?: SendWindow | null;
}

export interface EditImpact {
  enrolments: number;
  moved: number;
  earlier: number;
  later: number;
  unchanged: number;
  /** Whose next email becomes another step. */
  nextStepChanged: number;
  /** Whose next email, planned now, would not go at all (every step after the last sent is gone). */
  nothingNext: number;
  examples: { enrolmentId: string; from: { stepId: string; dueAt: string } | null; to: { stepId: string; dueAt: string } | null }[];
}

/** The steps as the edit leaves them: the step's delay changed, or the step moved to its new place. */
export function editedSteps(steps: ImpactStep[], edit: Edit): ImpactStep[] {
  const ordered = [...steps]
    .sort((a, b) => a.position - b.position)
    .map((s) => (s.id === edit.stepId && edit.delay ? { ...s, delay: edit.delay } : s));
  if (edit.position === undefined) return ordered;
  const moving = ordered.find((s) => s.id === edit.stepId)!;
  const rest = ordered.filter((s) => s.id !== edit.stepId);
  rest.splice(Math.min(Math.max(edit.position, 1), ordered.length) - 1, 0, moving);
  return rest.map((s, i) => ({ ...s, position: i + 1 }));
}

export function editImpact(input: {
  steps: ImpactStep[];
  window: SendWindow | null;
  enrolments: ImpactEnrolment[];
  edit: Edit;
}): EditImpact {
  const after = editedSteps(input.steps, input.edit);
  const window = input.edit.sendWindow !== undefined ? input.edit.sendWindow : input.window;
  const impact: EditImpact = {
    enrolments: 0,
    moved: 0,
    earlier: 0,
    later: 0,
    unchanged: 0,
    nextStepChanged: 0,
    nothingNext: 0,
    examples: [],
  };
  for (const e of input.enrolments) {
    impact.enrolments++;
    // Positions at send time say where a deleted step stood; a live one's place is its new one.
    const sent = e.sent.map((s) => ({ stepId: s.stepId, position: after.find((a) => a.id === s.stepId)?.position ?? s.position }));
    const step = nextStep(after, sent);
    const to = step
      ? {
          stepId: step.id,
          dueAt: stepSchedule({ previousAt: e.previousAt, delay: step.delay, window, zone: e.zone, daysOff: e.daysOff }).at,
        }
      : null;
    const from = e.planned;
    // To the second: the plan counted from the workflow's clock, `previousAt` from the database's,
    // a few milliseconds apart.
    const same = from?.stepId === to?.stepId && (!from || Math.abs(from.dueAt.getTime() - to!.dueAt.getTime()) < SAME_TIME_MS);
    if (same) {
      impact.unchanged++;
      continue;
    }
    impact.moved++;
    if (from && to && from.stepId !== to.stepId) impact.nextStepChanged++;
    if (from && !to) impact.nothingNext++;
    if (from && to) {
      if (to.dueAt < from.dueAt) impact.earlier++;
      else impact.later++;
    }
    if (impact.examples.length < 5) {
      impact.examples.push({
        enrolmentId: e.id,
        from: from ? { stepId: from.stepId, dueAt: from.dueAt.toISOString() } : null,
        to: to ? { stepId: to.stepId, dueAt: to.dueAt.toISOString() } : null,
      });
    }
  }
  return impact;
}
