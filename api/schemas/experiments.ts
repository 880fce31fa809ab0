import { z } from 'zod';
import { VARIANT_STATUSES } from '../../db/schema.js';
import { CREDIBLE_LEVEL, DECISION_THRESHOLD } from '../../domain/experiment-stats.js';

/** The rule every figure below is counted by, said once for the document and the portal. */
export const ATTRIBUTION_RULE =
  'A reply or an unsubscribe counts for the latest email the enrolment had received at that moment (for an unsubscribe, which is account-wide, the latest sequence email the lead had received); a bounce, a complaint, a click and an open count for their own email.';

const count = z.number().int().min(0);
const share = z.number().min(0).max(1);

const credibleIntervalSchema = z
  .object({ lower: share, upper: share })
  .describe(`The ${CREDIBLE_LEVEL * 100} % equal-tailed credible interval of the reply rate (Beta posterior from a uniform prior)`);

export const experimentVariantSchema = z.object({
  id: z.uuid(),
  label: z.string(),
  status: z
    .enum(VARIANT_STATUSES)
    .describe('active, stopped (by a guardrail), removed (by a user), lost (to the declared winner) or winner'),
  weight: z.number().int(),
  endedReason: z.string().nullable().describe('Why it stopped being assigned, in words (a guardrail’s figures, a removal, the winner)'),
  endedAt: z.iso.datetime().nullable(),
  assigned: count.describe(
    'Enrolments assigned this variant now (sent or not yet sent; an unsent one moved off a variant counts where it went)',
  ),
  sent: count.describe('Emails of this variant accepted by the provider (sent, delivered or bounced)'),
  delivered: count,
  bounced: count.describe('Hard bounces of its own emails'),
  replied: count.describe(
    'Enrolments whose real reply (class reply, from the lead or the lead’s company; not auto-replies or out-of-office) counts for this variant’s email',
  ),
  positiveReplies: count.describe('Of those, enrolments with a reply a user marked positive (POST /v1/inbound-emails/{id}/sentiment)'),
  unsubscribed: count.describe(
    'Leads whose unsubscription counts for this variant’s email (one a spam complaint made counts as complained)',
  ),
  complained: count.describe('Its own emails reported as spam'),
  clicked: count.describe('Its own emails with at least one tracked click'),
  opened: z
    .object({ count, reliable: z.literal(false) })
    .describe(
      'Its own emails with at least one tracked open. Not reliable: Apple Mail Privacy Protection and image proxies open emails nobody read, and blocked images hide real reads; never judge a variant on it',
    ),
});

export const variantComparisonSchema = z.object({
  variantId: z.uuid(),
  label: z.string(),
  sent: count,
  replied: count,
  meanRate: share.describe('The posterior mean of the reply rate: (1 + replied) / (2 + sent)'),
  credibleInterval: credibleIntervalSchema,
  probabilityBest: share.describe('The probability, given the data, that this variant has the highest reply rate of those compared'),
});

export const experimentComparisonSchema = z
  .object({
    metric: z.literal('reply_rate'),
    variants: z.array(variantComparisonSchema).describe('Every variant with emails sent, whatever its status: what it sent is evidence'),
    leader: z.object({ variantId: z.uuid(), label: z.string(), probabilityBest: share }),
    decided: z.boolean().describe(`Whether the leader’s probability of being best has reached ${DECISION_THRESHOLD * 100} %`),
    additionalSendsPerVariant: count
      .nullable()
      .describe(
        'Sends per variant still needed before a decision if every variant went on replying at its current mean rate (an order of magnitude, not a promise): 0 when decided, null when no decision is in sight',
      ),
  })
  .describe('The comparison on reply rate (Beta-Binomial); null until two variants have emails sent');

export const experimentSchema = z.object({
  sequenceId: z.uuid(),
  stepId: z.uuid(),
  attribution: z.string().describe('The attribution rule every count follows'),
  variants: z.array(experimentVariantSchema).describe('Every variant of the step, in label order, removed and stopped ones included'),
  comparison: experimentComparisonSchema.nullable(),
  decision: z
    .enum(['not_enough_variants', 'decided', 'more_sends_needed', 'no_decision_in_sight'])
    .describe('Where the comparison stands, for a machine; `summary` says it in words'),
  summary: z.string().describe('The comparison in plain words'),
});

const holdoutGroupSchema = z.object({
  enrolments: count.describe('Enrolments of the group that were sent at least one email'),
  live: count.describe('Of those, still active or paused: their follow-ups (and replies) may still come'),
  replied: count.describe('Of those, enrolments with a real reply (after any step)'),
  meanRate: share.nullable().describe('The posterior mean of the reply rate; null for an empty group'),
  credibleInterval: credibleIntervalSchema.nullable(),
});

export const holdoutSchema = z.object({
  sequenceId: z.uuid(),
  holdoutPercent: z.number().int().describe('The share of new enrolments held out now (0 when the sequence keeps no holdout)'),
  holdout: holdoutGroupSchema.describe('Enrolments held out: step 1 only, no follow-up'),
  followUps: holdoutGroupSchema.describe('Every other enrolment whose holdout was decided: the whole sequence'),
  probabilityFollowUpsBetter: share
    .nullable()
    .describe('The probability that the follow-ups’ reply rate is higher than the holdout’s; null until both groups have enrolments'),
  summary: z.string().describe('The comparison in plain words'),
});
