import type { LeadEventRules } from '../db/schema.js';
import { REASONS } from './enrolment-status.js';

// What the portal's own events about a lead (POST /v1/leads/{id}/events: a meeting booked, a deal
// won or lost, do not contact, or a name of its own) do to the lead's live enrolments. Pure: the
// service (api/services/lead-events.ts) reads the rules and signals the workflows.

/** What one event does to one live enrolment of the lead. */
export const LEAD_EVENT_ACTIONS = ['stop', 'pause', 'none'] as const;
export type LeadEventAction = (typeof LEAD_EVENT_ACTIONS)[number];

/** The event that suppresses the lead account-wide (leads.do_not_contact_at), whatever a sequence says. */
export const DO_NOT_CONTACT = 'do_not_contact';

/** Whether the event marks the lead never to be contacted again, in any sequence. */
export const suppressesLead = (name: string): boolean => name === DO_NOT_CONTACT;

/**
 * What an event does to an enrolment in a sequence with these rules: `do_not_contact` stops every
 * enrolment, whatever the rules say (the lead is suppressed); otherwise a name in `stop` stops,
 * one in `pause` pauses, any other changes nothing. A name in both (the API refuses such rules)
 * stops: the stronger word wins.
 */
export function leadEventAction(rules: LeadEventRules, name: string): LeadEventAction {
  if (suppressesLead(name)) return 'stop';
  if (rules.stop.includes(name)) return 'stop';
  if (rules.pause.includes(name)) return 'pause';
  return 'none';
}

/** Why the enrolment stopped or paused, as its timeline, the API and the Temporal UI say it. */
export function leadEventReason(name: string): string {
  return suppressesLead(name) ? REASONS.doNotContact : `the portal reported ${name}`;
}

/**
 * How much the portal may say about an event (`detail`): a small flat record, not a document store.
 * Every rule is one JSON Schema states (the OpenAPI document carries them, so a client, and the
 * fuzzer, can tell a valid detail from the schema alone), and together they bound its size: at
 * most 20 × 10 strings of 200 characters.
 */
export const LEAD_EVENT_DETAIL_LIMITS = {
  /** Properties of the detail object, and of an object inside it. */
  properties: 20,
  /** Items of a list in it, and properties of an object in it. */
  items: 10,
  /** Characters (code points) of a property name. */
  nameLength: 64,
  /** Characters (code points) of a string value. */
  stringLength: 200,
} as const;

const { properties: MAX_PROPERTIES, items: MAX_ITEMS, nameLength: MAX_NAME, stringLength: MAX_STRING } = LEAD_EVENT_DETAIL_LIMITS;
const codePoints = (text: string) => [...text].length;

function scalarProblem(value: unknown): string | undefined {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return undefined;
  if (typeof value === 'string') return codePoints(value) > MAX_STRING ? `must be at most ${MAX_STRING} characters` : undefined;
  return 'must be a string, number, boolean or null (a detail holds lists and objects one level deep)';
}

/**
 * What is wrong with a detail, and where (the path below `detail`), or undefined if nothing:
 * an object of at most 20 properties (names 1-64 characters), each a string (at most 200
 * characters), number, boolean or null, or a list of at most 10 of those, or an object of at most
 * 10 of those.
 */
export function detailProblem(detail: Record<string, unknown>): { path: (string | number)[]; message: string } | undefined {
  const entries = Object.entries(detail);
  if (entries.length > MAX_PROPERTIES) return { path: [], message: `must have at most ${MAX_PROPERTIES} properties` };
  for (const [name, value] of entries) {
    if (name.length === 0 || codePoints(name) > MAX_NAME) return { path: [name], message: `names must be 1-${MAX_NAME} characters` };
    if (Array.isArray(value)) {
      if (value.length > MAX_ITEMS) return { path: [name], message: `must have at most ${MAX_ITEMS} items` };
      for (const [i, item] of value.entries()) {
        const problem = scalarProblem(item);
        if (problem) return { path: [name, i], message: problem };
      }
    } else if (value !== null && typeof value === 'object') {
      const inner = Object.entries(value);
      if (inner.length > MAX_ITEMS) return { path: [name], message: `must have at most ${MAX_ITEMS} properties` };
      for (const [innerName, item] of inner) {
        if (innerName.length === 0 || codePoints(innerName) > MAX_NAME) {
          return { path: [name, innerName], message: `names must be 1-${MAX_NAME} characters` };
        }
        const problem = scalarProblem(item);
        if (problem) return { path: [name, innerName], message: problem };
      }
    } else {
      const problem = scalarProblem(value);
      if (problem) return { path: [name], message: problem };
    }
  }
  return undefined;
}

/** The same rules as JSON Schema, for the OpenAPI document. */
export function detailJsonSchema() {
  const scalar = { anyOf: [{ type: 'string', maxLength: MAX_STRING }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }] };
  const names = { type: 'string', minLength: 1, maxLength: MAX_NAME };
  return {
    type: 'object' as const,
    maxProperties: MAX_PROPERTIES,
    propertyNames: names,
    additionalProperties: {
      anyOf: [
        ...scalar.anyOf,
        { type: 'array', maxItems: MAX_ITEMS, items: scalar },
        { type: 'object', maxProperties: MAX_ITEMS, propertyNames: names, additionalProperties: scalar },
      ],
    },
  };
}
