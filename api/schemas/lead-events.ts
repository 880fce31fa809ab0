import { z } from 'zod';
import { detailJsonSchema, detailProblem, LEAD_EVENT_ACTIONS, LEAD_EVENT_DETAIL_LIMITS } from '../../domain/lead-events.js';
import { leadEventName } from './sequences.js';

/** The portal's own events about a lead (POST /v1/leads/{id}/events): a meeting booked, a deal won, do not contact… */

const { properties, items, nameLength, stringLength } = LEAD_EVENT_DETAIL_LIMITS;

/** The portal's id of an event: the same key again is the same event (a retried request). */
export const leadEventKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, 'must be 1-200 visible ASCII characters')
  .describe(
    'The portal’s own id of the event, 1-200 visible ASCII characters: the same key again (for this account) is the same event, answered as the first time and applied once. Without one, the service makes one',
  );

/** Checked by domain/lead-events.ts, whose rules the document states as JSON Schema. */
const leadEventDetail = z
  .record(z.string(), z.unknown())
  .superRefine((detail, ctx) => {
    const problem = detailProblem(detail);
    if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  })
  .meta({
    description: `What the portal wants kept with the event (a deal id, a stage, attendees…), stored as given: an object of at most ${properties} properties (names 1-${nameLength} characters), each a string of at most ${stringLength} characters, a number, a boolean, null, or a list of at most ${items} of those, or an object of at most ${items} of those`,
    override: detailJsonSchema(),
  });

export const leadEventInputSchema = z.object({
  name: leadEventName.describe(
    'meeting_booked, deal_won, deal_lost, do_not_contact (suppresses the lead account-wide and ends every live enrolment), or a name of the portal’s own; each sequence’s leadEventRules say which stop or pause its enrolments',
  ),
  eventKey: leadEventKey.optional(),
  detail: leadEventDetail.optional(),
});

export const leadEventEffectSchema = z.object({
  enrolmentId: z.uuid(),
  sequenceId: z.uuid(),
  action: z
    .enum(LEAD_EVENT_ACTIONS)
    .describe('What the event does to this live enrolment by its sequence’s leadEventRules (do_not_contact: stop, whatever they say)'),
});

export const leadEventSchema = z.object({
  id: z.uuid(),
  leadId: z.uuid(),
  name: z.string(),
  eventKey: z.string(),
  createdAt: z.iso.datetime(),
  duplicate: z.literal(true).optional().describe('This key was seen before: the first request’s event and effects, nothing applied again'),
  effects: z
    .array(leadEventEffectSchema)
    .describe('Every enrolment of the lead that was live (active or paused) when the event arrived, with what it did there'),
});
