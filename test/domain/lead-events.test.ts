import { describe, expect, it } from 'vitest';
import { leadEventInputSchema } from '../../api/schemas/lead-events.js';
import { LEAD_EVENT_NAMES } from '../../db/schema.js';
import {
  detailJsonSchema,
  detailProblem,
  DO_NOT_CONTACT,
  leadEventAction,
  leadEventReason,
  suppressesLead,
} from '../../domain/lead-events.js';

// What a portal event about a lead does to one of its enrolments, by the sequence's leadEventRules.

const DEFAULT_RULES = { stop: ['meeting_booked', 'deal_won', 'deal_lost'], pause: [] };

describe('what a portal event does to an enrolment', () => {
  it('by the default rules: a booked meeting, a won or a lost deal stop; a name of the portal’s own does nothing', () => {
    expect(leadEventAction(DEFAULT_RULES, 'meeting_booked')).toBe('stop');
    expect(leadEventAction(DEFAULT_RULES, 'deal_won')).toBe('stop');
    expect(leadEventAction(DEFAULT_RULES, 'deal_lost')).toBe('stop');
    expect(leadEventAction(DEFAULT_RULES, 'trial_started')).toBe('none');
  });

  it('a name in pause pauses, one in stop stops, one in neither does nothing', () => {
    const rules = { stop: ['deal_won'], pause: ['meeting_booked', 'trial_started'] };
    expect(leadEventAction(rules, 'meeting_booked')).toBe('pause');
    expect(leadEventAction(rules, 'trial_started')).toBe('pause');
    expect(leadEventAction(rules, 'deal_won')).toBe('stop');
    expect(leadEventAction(rules, 'deal_lost')).toBe('none');
    expect(leadEventAction({ stop: [], pause: [] }, 'meeting_booked')).toBe('none');
  });

  it('do_not_contact stops every enrolment, whatever the rules say', () => {
    expect(leadEventAction({ stop: [], pause: [] }, DO_NOT_CONTACT)).toBe('stop');
    expect(leadEventAction({ stop: [], pause: [DO_NOT_CONTACT] }, DO_NOT_CONTACT)).toBe('stop');
    expect(leadEventAction(DEFAULT_RULES, DO_NOT_CONTACT)).toBe('stop');
    expect(suppressesLead(DO_NOT_CONTACT)).toBe(true);
    for (const name of LEAD_EVENT_NAMES.filter((n) => n !== DO_NOT_CONTACT)) expect(suppressesLead(name)).toBe(false);
  });

  it('a name in both lists (which the API refuses) stops', () => {
    expect(leadEventAction({ stop: ['x'], pause: ['x'] }, 'x')).toBe('stop');
  });

  it('names the event in the reason; do_not_contact has the suppression’s own', () => {
    expect(leadEventReason('meeting_booked')).toBe('the portal reported meeting_booked');
    expect(leadEventReason('trial_started')).toBe('the portal reported trial_started');
    expect(leadEventReason(DO_NOT_CONTACT)).toBe('the portal marked the lead do not contact');
  });
});

describe('what an event may carry', () => {
  const filled = (n: number, value: unknown) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));

  it('a flat record, with lists and objects one level deep', () => {
    expect(detailProblem({})).toBeUndefined();
    expect(
      detailProblem({ dealId: 'D-1', amount: 1200.5, won: true, owner: null, stage: { from: 'demo', to: 'won' }, tags: ['a', 1, null] }),
    ).toBeUndefined();
    expect(detailProblem(filled(20, filled(10, 'x'.repeat(200))))).toBeUndefined();
    expect(detailProblem({ emoji: '🎉'.repeat(200) })).toBeUndefined(); // characters, as JSON Schema counts them
  });

  it('refuses, naming where: too many properties or items, long names or strings, deeper nesting', () => {
    expect(detailProblem(filled(21, 1))).toEqual({ path: [], message: 'must have at most 20 properties' });
    expect(detailProblem({ list: Array(11).fill(1) })).toEqual({ path: ['list'], message: 'must have at most 10 items' });
    expect(detailProblem({ obj: filled(11, 1) })).toEqual({ path: ['obj'], message: 'must have at most 10 properties' });
    expect(detailProblem({ ['n'.repeat(65)]: 1 })?.message).toBe('names must be 1-64 characters');
    expect(detailProblem({ '': 1 })?.message).toBe('names must be 1-64 characters');
    expect(detailProblem({ obj: { ['n'.repeat(65)]: 1 } })?.path).toEqual(['obj', 'n'.repeat(65)]);
    expect(detailProblem({ note: 'x'.repeat(201) })).toEqual({ path: ['note'], message: 'must be at most 200 characters' });
    expect(detailProblem({ list: ['ok', 'x'.repeat(201)] })?.path).toEqual(['list', 1]);
    expect(detailProblem({ a: { b: { c: 1 } } })?.path).toEqual(['a', 'b']);
    expect(detailProblem({ a: [[1]] })?.path).toEqual(['a', 0]);
    expect(detailProblem({ a: [{ b: 1 }] })?.message).toMatch(/one level deep/);
  });

  it('states the same rules as JSON Schema for the OpenAPI document', () => {
    const schema = detailJsonSchema();
    expect(schema).toMatchObject({ type: 'object', maxProperties: 20, propertyNames: { minLength: 1, maxLength: 64 } });
    const kinds = schema.additionalProperties.anyOf;
    expect(kinds).toContainEqual({ type: 'string', maxLength: 200 });
    expect(kinds).toContainEqual(expect.objectContaining({ type: 'array', maxItems: 10 }));
    expect(kinds).toContainEqual(expect.objectContaining({ type: 'object', maxProperties: 10 }));
  });

  it('refuses a bad name, a bad key, a detail too large or too deep, naming the field', () => {
    const fieldOf = (body: unknown) => leadEventInputSchema.safeParse(body).error?.issues[0]?.path.join('.');
    expect(fieldOf({ name: 'meeting_booked' })).toBeUndefined();
    expect(fieldOf({ name: 'Meeting Booked' })).toBe('name');
    expect(fieldOf({ name: '' })).toBe('name');
    expect(fieldOf({ name: 'x'.repeat(65) })).toBe('name');
    expect(fieldOf({ name: 'deal_won', eventKey: 'crm-evt-1' })).toBeUndefined();
    expect(fieldOf({ name: 'deal_won', eventKey: 'has space' })).toBe('eventKey');
    expect(fieldOf({ name: 'deal_won', eventKey: '' })).toBe('eventKey');
    expect(fieldOf({ name: 'deal_won', eventKey: 'k'.repeat(201) })).toBe('eventKey');
    expect(fieldOf({ name: 'deal_won', eventKey: 'é' })).toBe('eventKey');
    expect(fieldOf({ name: 'deal_won', detail: { dealId: 'D-1', stage: { from: 'demo', to: 'won' } } })).toBeUndefined();
    expect(fieldOf({ name: 'deal_won', detail: { a: { b: { c: 1 } } } })).toBe('detail.a.b');
    expect(fieldOf({ name: 'deal_won', detail: { note: 'x'.repeat(201) } })).toBe('detail.note');
    expect(fieldOf({ name: 'deal_won', detail: filled(21, 1) })).toBe('detail');
    expect(fieldOf({ name: 'deal_won', detail: ['not', 'an', 'object'] })).toBe('detail');
  });
});
