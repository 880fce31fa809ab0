import type { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { errorBodySchema } from './errors.js';
import {
  accountPatchSchema,
  accountSchema,
  confirmationTokenParams,
  portalWebhookSecretSchema,
  senderConfirmationSentSchema,
  senderConfirmedSchema,
} from './schemas/account.js';
import {
  idParams,
  jsonObject,
  pageQuery,
  rateLimitHeaders,
  rateLimitHeadersIfRateLimited,
  stepParams,
  textBody,
} from './schemas/common.js';
import { domainSchema, domainStatusSchema } from './schemas/domains.js';
import {
  oneOffAcceptedSchema,
  oneOffInputSchema,
  oneOffSchema,
  outboxPageSchema,
  previewSchema,
  renderedSchema,
  testSendAnswerSchema,
  testSendSchema,
} from './schemas/emails.js';
import {
  bulkResultSchema,
  enrolManySchema,
  enrolmentDetailSchema,
  enrolmentListQuery,
  enrolmentPageSchema,
  enrolmentSchema,
  enrolOneSchema,
  idempotencyKeyHeader,
} from './schemas/enrolments.js';
import { experimentSchema, holdoutSchema } from './schemas/experiments.js';
import { forecastQuery, forecastSchema } from './schemas/forecast.js';
import { stepImpactAnswerSchema, stepImpactSchema } from './schemas/edit-impact.js';
import { livenessSchema, readinessSchema } from './schemas/health.js';
import {
  classificationCorrectedSchema,
  classificationCorrectionSchema,
  inboundEmailSchema,
  resendEventSchema,
  resendSignatureHeaders,
  sentimentInputSchema,
  webhookAnswerSchema,
} from './schemas/inbound.js';
import {
  importAnswerSchema,
  leadImportDocSchema,
  leadInputSchema,
  leadListQuery,
  leadPageSchema,
  leadPatchSchema,
  leadSchema,
} from './schemas/leads.js';
import { leadEventInputSchema, leadEventSchema } from './schemas/lead-events.js';
import { notificationPageSchema, notificationQuery, notificationReadSchema } from './schemas/notifications.js';
import {
  sequenceBroadcastSchema,
  sequenceCreateSchema,
  sequenceDetailSchema,
  sequencePageSchema,
  sequencePatchSchema,
  sequenceSchema,
  stepInputSchema,
  stepOrderSchema,
  stepPatchSchema,
  stepSchema,
  stepVariantChangeSchema,
  variantInputSchema,
  variantParams,
  variantPatchSchema,
} from './schemas/sequences.js';
import {
  senderCreateSchema,
  senderListQuery,
  senderPageSchema,
  senderPatchSchema,
  senderRetiredSchema,
  senderRetireSchema,
  senderSchema,
} from './schemas/senders.js';
import { statsSchema } from './schemas/stats.js';
import { oneClickForm, unsubscribeTokenParams } from './schemas/unsubscribe.js';

/**
 * The OpenAPI 3.1 document, assembled from the zod schemas in api/schemas/ that the routes validate
 * with and type their answers by: this file holds no schema of its own, only how each operation is
 * described. test/openapi.test.ts fails when a route of the app is missing here.
 */
const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const ok = (schema: z.ZodType, description = 'OK') => ({ description, ...json(schema) });
const error = (description: string) => ({ description, ...json(errorBodySchema) });
const standardErrors = {
  '400': error('Invalid input (validation_error, malformed_json)'),
  '401': error('Missing, wrong or revoked API key'),
  '404': error('Not found, or not this account’s'),
  '429': {
    description: 'Over the API key’s rate limit (rate_limited); retry after Retry-After seconds',
    headers: rateLimitHeaders,
    ...json(errorBodySchema),
  },
};
const TEMPLATE_REFUSALS =
  'A template refused, the field naming the step (steps.N.subject, steps.N.body) or its variant (steps.N.variants.M.body, variants.M.subject): unknown_merge_tag, invalid_template (a tag or filter emails may not use, or over the render limits), template_too_complex (more merge tags than allowed)';
/** A 429 that is not (only) the key's rate limit: the limiter's headers come with rate_limited alone. */
const refused429 = (description: string) => ({
  description,
  headers: rateLimitHeadersIfRateLimited,
  ...json(errorBodySchema),
});
const renderBusy = refused429('render_busy (this account has too many renders waiting) or rate_limited');
// A JSON body can also be too large or in an encoding the parser refuses.
const bodyErrors = {
  '413': error('The body is larger than the limit (payload_too_large)'),
  '415': error('Not application/json (unsupported_media_type), or an unsupported encoding or charset (unsupported_encoding)'),
};
const op = (
  summary: string,
  tag: string,
  o: Omit<ZodOpenApiOperationObject, 'summary' | 'tags' | 'responses'> & { responses?: ZodOpenApiOperationObject['responses'] },
) => ({
  summary,
  tags: [tag],
  ...o,
  responses: { ...standardErrors, ...(o.requestBody ? bodyErrors : {}), ...(o.responses ?? {}) },
});
const body = (schema: z.ZodType) => ({ requestBody: { required: true, ...json(schema) } });
const optionalBody = (schema: z.ZodType) => ({ requestBody: { required: false, ...json(schema) } });

const providerErrors = {
  '422': error('The email provider refused (email_provider_error)'),
  '502': error('The email provider failed to answer (email_provider_error)'),
  '503': error('No RESEND_API_KEY on the server (email_provider_not_configured)'),
};
const html = (description: string) => ({ description, content: { 'text/html': { schema: textBody } } });
/** The endpoints without an API key are limited per client IP (WEBHOOK_/UNSUBSCRIBE_RATE_LIMIT_PER_MINUTE). */
const perIpLimit = {
  '429': { ...standardErrors['429'], description: 'Over the per-client-IP rate limit (rate_limited); retry after Retry-After seconds' },
};

/**
 * OpenAPI links from the answer that creates a resource to the operations on it: what a client
 * does next, and what schemathesis' stateful phase follows (create, then read, change, act).
 */
const ref = (path: string, method: string) => `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;
const linksTo = (targets: [name: string, path: string, method: string][], parameters: Record<string, string>) =>
  Object.fromEntries(
    targets.map(([name, path, method]) => [
      name,
      {
        operationRef: ref(path, method),
        parameters: Object.fromEntries(Object.entries(parameters).filter(([param]) => path.includes(`{${param}}`))),
      },
    ]),
  );
const sequenceLinks = linksTo(
  [
    ['GetSequence', '/v1/sequences/{id}', 'get'],
    ['UpdateSequence', '/v1/sequences/{id}', 'patch'],
    ['SequenceStats', '/v1/sequences/{id}/stats', 'get'],
    ['PauseSequence', '/v1/sequences/{id}/pause', 'post'],
    ['ResumeSequence', '/v1/sequences/{id}/resume', 'post'],
    ['ArchiveSequence', '/v1/sequences/{id}/archive', 'post'],
    ['AddStep', '/v1/sequences/{id}/steps', 'post'],
    ['ReorderSteps', '/v1/sequences/{id}/steps/order', 'put'],
    ['EnrolLead', '/v1/sequences/{id}/enrolments', 'post'],
    ['ListEnrolments', '/v1/sequences/{id}/enrolments', 'get'],
    ['EnrolLeads', '/v1/sequences/{id}/enrolments/bulk', 'post'],
  ],
  { id: '$response.body#/id' },
);
const stepLinks = linksTo(
  [
    ['UpdateStep', '/v1/sequences/{id}/steps/{stepId}', 'patch'],
    ['DeleteStep', '/v1/sequences/{id}/steps/{stepId}', 'delete'],
    ['PreviewStep', '/v1/sequences/{id}/steps/{stepId}/preview', 'post'],
    ['TestStep', '/v1/sequences/{id}/steps/{stepId}/test', 'post'],
    ['AddVariant', '/v1/sequences/{id}/steps/{stepId}/variants', 'post'],
  ],
  { id: '$request.path.id', stepId: '$response.body#/id' },
);
const leadLinks = linksTo(
  [
    ['GetLead', '/v1/leads/{id}', 'get'],
    ['UpdateLead', '/v1/leads/{id}', 'patch'],
    ['EmailLead', '/v1/leads/{id}/emails', 'post'],
  ],
  { id: '$response.body#/id' },
);
const enrolmentLinks = linksTo(
  [
    ['GetEnrolment', '/v1/enrolments/{id}', 'get'],
    ...(['pause', 'resume', 'stop', 'reply'] as const).map((a): [string, string, string] => [
      `${a[0]!.toUpperCase()}${a.slice(1)}Enrolment`,
      `/v1/enrolments/{id}/${a}`,
      'post',
    ]),
  ],
  { id: '$response.body#/id' },
);
const senderLinks = linksTo(
  [
    ['GetSender', '/v1/senders/{id}', 'get'],
    ['UpdateSender', '/v1/senders/{id}', 'patch'],
    ['ConfirmSender', '/v1/senders/{id}/confirmation', 'post'],
    ['RetireSender', '/v1/senders/{id}/retire', 'post'],
  ],
  { id: '$response.body#/id' },
);
const emailLinks = linksTo([['GetEmail', '/v1/emails/{id}', 'get']], { id: '$response.body#/id' });

const paths: ZodOpenApiPathsObject = {
  '/healthz': { get: { summary: 'The process is up', tags: ['Health'], responses: { '200': ok(livenessSchema) } } },
  '/readyz': {
    get: {
      summary: 'Database and Temporal reachable',
      tags: ['Health'],
      responses: { '200': ok(readinessSchema), '503': ok(readinessSchema, 'A dependency is down; `failing` names it') },
    },
  },
  '/metrics': {
    get: {
      summary:
        'Prometheus metrics (all accounts): `Authorization: Bearer <METRICS_TOKEN>`; not served on the API port without METRICS_TOKEN',
      tags: ['Health'],
      responses: {
        '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: textBody } } },
        '401': error('Missing or wrong metrics token (unauthorized)'),
        '404': error('METRICS_TOKEN is not set: scrape the worker’s METRICS_PORT (route_not_found)'),
      },
    },
  },
  '/openapi.json': { get: { summary: 'This document', tags: ['Docs'], responses: { '200': ok(jsonObject) } } },
  '/docs': { get: { summary: 'Readable API documentation', tags: ['Docs'], responses: { '200': html('Swagger UI') } } },
  '/webhooks/resend': {
    post: {
      summary: 'Resend webhook events (Svix-signed)',
      tags: ['Inbound'],
      requestParams: { header: resendSignatureHeaders },
      ...body(resendEventSchema),
      responses: {
        '200': ok(webhookAnswerSchema),
        '400': error('Not JSON, or not a Resend event'),
        '401': error('Bad or stale signature'),
        '413': error('The body is over 1 MB (payload_too_large)'),
        '503': error(
          'RESEND_WEBHOOK_SECRET not set, the received email could not be fetched from Resend (received_email_unavailable), or the same event is still being applied by an earlier delivery (inbound_in_progress): delivered again later',
        ),
        ...perIpLimit,
      },
    },
  },
  '/inbound/mime': {
    post: {
      summary: 'A raw MIME email from another inbound provider',
      tags: ['Inbound'],
      description:
        'The secret is checked before the body is read. Whatever the message holds it is recorded (text cleaned of what PostgreSQL cannot store, every field bounded); one the parser refuses is recorded from its headers. The sender field of the reply (lead, lead_domain, other) decides whether it applies the sequence’s onReply.',
      requestBody: { required: true, content: { 'message/rfc822': { schema: textBody } } },
      responses: {
        '200': ok(webhookAnswerSchema),
        '400': error('Empty body'),
        '401': error('Wrong inbound secret'),
        '413': error('The message is over 25 MB (payload_too_large)'),
        '503': error(
          'INBOUND_MIME_SECRET not set, or the same email is still being applied by an earlier delivery (inbound_in_progress: deliver it again later)',
        ),
        ...perIpLimit,
      },
    },
  },
  '/u/{token}': {
    get: {
      summary: 'Unsubscribe confirmation page',
      tags: ['Unsubscribe'],
      requestParams: { path: unsubscribeTokenParams },
      responses: { '200': html('Confirmation page'), '400': html('Invalid link'), '410': html('Expired link'), ...perIpLimit },
    },
    post: {
      summary: 'Unsubscribe (page button or RFC 8058 one-click)',
      tags: ['Unsubscribe'],
      requestParams: { path: unsubscribeTokenParams },
      requestBody: {
        content: { 'application/x-www-form-urlencoded': { schema: oneClickForm } },
      },
      responses: { '200': html('Unsubscribed'), '400': html('Invalid link'), '410': html('Expired link'), ...perIpLimit },
    },
  },
  '/confirm-sender/{token}': {
    get: {
      summary: 'Sender address confirmation page (the link in the confirmation email)',
      tags: ['Account'],
      requestParams: { path: confirmationTokenParams },
      responses: {
        '200': html('Confirmation page'),
        '400': html('Invalid link, or the address changed since'),
        '410': html('Expired link'),
        ...perIpLimit,
      },
    },
    post: {
      summary: 'Confirm the sender address (the page’s button)',
      tags: ['Account'],
      requestParams: { path: confirmationTokenParams },
      responses: {
        '200': html('Confirmed'),
        '400': html('Invalid link, or the address changed since'),
        '410': html('Expired link'),
        ...perIpLimit,
      },
    },
  },
  '/v1/account': {
    get: op('The caller’s account', 'Account', { responses: { '200': ok(accountSchema) } }),
    patch: op('Change settings and branding', 'Account', {
      ...body(accountPatchSchema),
      responses: {
        '200': ok(accountSchema),
        '409': error('sender_retired (defaultSenderId), sender_email_taken (senderEmail is another live sender’s)'),
        '422': error(
          'sender_not_found (defaultSenderId names no sender of the account); portalWebhookUrl refused (field portalWebhookUrl): webhook_url_not_allowed (credentials, not https in production, or a private, loopback, link-local, CGNAT, multicast or cloud metadata destination, also when its host resolves to one), webhook_url_unresolvable (its host does not resolve)',
        ),
      },
    }),
  },
  '/v1/account/sender-email/confirmation': {
    post: op('Send a confirmation link to the account’s default sender’s address (as POST /v1/senders/{id}/confirmation)', 'Account', {
      responses: {
        '200': ok(senderConfirmedSchema, 'Already confirmed'),
        '202': ok(senderConfirmationSentSchema, 'Link sent'),
        '422': error('no_sender_email'),
        '429': refused429(
          'confirmation_recently_sent (one link per address per ten minutes), confirmation_limit_reached, daily_cap_reached (the confirmation email counts against the daily cap) or rate_limited',
        ),
      },
    }),
  },
  '/v1/senders': {
    post: op('Add a sender (a rep emails go out as); the first becomes the account’s default', 'Senders', {
      ...body(senderCreateSchema),
      responses: {
        '201': { ...ok(senderSchema), links: senderLinks },
        '409': error('sender_email_taken (another live sender of the account has this address)'),
      },
    }),
    get: op('List the account’s senders, oldest first', 'Senders', {
      requestParams: { query: senderListQuery },
      responses: { '200': ok(senderPageSchema) },
    }),
  },
  '/v1/senders/{id}': {
    get: op('One sender', 'Senders', { requestParams: { path: idParams }, responses: { '200': ok(senderSchema) } }),
    patch: op('Change a sender; a new address must be confirmed again', 'Senders', {
      requestParams: { path: idParams },
      ...body(senderPatchSchema),
      responses: { '200': ok(senderSchema), '409': error('sender_retired, sender_email_taken') },
    }),
  },
  '/v1/senders/{id}/confirmation': {
    post: op(
      'Send a confirmation link to the sender’s address; until it is confirmed, no test copy or forwarded reply goes there',
      'Senders',
      {
        requestParams: { path: idParams },
        responses: {
          '200': ok(senderConfirmedSchema, 'Already confirmed'),
          '202': ok(senderConfirmationSentSchema, 'Link sent'),
          '409': error('sender_retired'),
          '422': error('no_sender_email'),
          '429': refused429(
            'confirmation_recently_sent (one link per address per ten minutes), confirmation_limit_reached, daily_cap_reached or rate_limited',
          ),
        },
      },
    ),
  },
  '/v1/senders/{id}/resume': {
    post: op('Resume a sender the bounce and complaint breaker paused: their enrolments it paused go on', 'Senders', {
      description:
        'Marks the sender’s trip resumed (the breaker then lets them be for the grace period unless the rate doubles) and resumes the enrolments the trip paused; a person’s own pauses stay. A sender with nothing to resume is answered as it is.',
      requestParams: { path: idParams },
      responses: { '200': ok(senderSchema) },
    }),
  },
  '/v1/senders/{id}/retire': {
    post: op('Retire a sender: nothing more goes out as them; their live enrolments are paused or moved', 'Senders', {
      requestParams: { path: idParams },
      ...optionalBody(senderRetireSchema),
      responses: {
        '200': ok(senderRetiredSchema),
        '409': error(
          'sender_has_live_enrolments (say liveEnrolments), sender_is_account_default (move to another, who becomes the default), sender_retired (moveTo is retired)',
        ),
        '422': error('sender_not_found (moveTo), validation_error'),
      },
    }),
  },
  '/v1/account/portal-webhook-secret/rotate': {
    post: op(
      'A new portal webhook signing secret, shown in this answer only; the previous one keeps signing beside it for 24 hours',
      'Account',
      {
        responses: {
          '200': ok(portalWebhookSecretSchema),
          '415': error('A Content-Type other than JSON (unsupported_media_type): this request takes no body'),
        },
      },
    ),
  },
  '/v1/account/domain': {
    post: op('Add a custom sending domain', 'Account', {
      ...body(domainSchema),
      responses: { '201': ok(domainStatusSchema), ...providerErrors },
    }),
    get: op('Sending domain status and DNS records', 'Account', { responses: { '200': ok(domainStatusSchema), ...providerErrors } }),
  },
  '/v1/account/domain/verify': {
    post: op('Ask the provider to verify the domain', 'Account', { responses: { '200': ok(domainStatusSchema), ...providerErrors } }),
  },
  '/v1/sequences': {
    post: op('Create a sequence (with steps)', 'Sequences', {
      ...body(sequenceCreateSchema),
      responses: {
        '201': { ...ok(sequenceSchema), links: sequenceLinks },
        '409': error('sender_retired (senderId)'),
        '422': error(
          TEMPLATE_REFUSALS +
            ', a plan limit (plan_limit_sequences, plan_limit_steps), or sender_not_found (senderId names no sender of the account)',
        ),
        '429': renderBusy,
      },
    }),
    get: op('List sequences', 'Sequences', { requestParams: { query: pageQuery }, responses: { '200': ok(sequencePageSchema) } }),
  },
  '/v1/sequences/{id}': {
    get: op('A sequence with its steps and enrolment counts', 'Sequences', {
      requestParams: { path: idParams },
      responses: { '200': ok(sequenceDetailSchema) },
    }),
    patch: op('Rename, change on-reply or send window', 'Sequences', {
      requestParams: { path: idParams },
      ...body(sequencePatchSchema),
      responses: {
        '200': ok(sequenceSchema),
        '409': error('Archived, or sender_retired (senderId)'),
        '422': error('sender_not_found (senderId names no sender of the account)'),
      },
    }),
  },
  ...Object.fromEntries(
    (['pause', 'resume', 'archive'] as const).map((action) => [
      `/v1/sequences/{id}/${action}`,
      {
        post: op(
          `${action === 'archive' ? 'Archive (stop every enrolment)' : action === 'pause' ? 'Pause every enrolment' : 'Resume every enrolment'}`,
          'Sequences',
          {
            requestParams: { path: idParams },
            responses: { '202': ok(sequenceBroadcastSchema), '409': error('Archived') },
          },
        ),
      },
    ]),
  ),
  '/v1/sequences/{id}/steps': {
    post: op('Add a step', 'Steps', {
      requestParams: { path: idParams },
      ...body(stepInputSchema),
      responses: {
        '201': { ...ok(stepSchema), links: stepLinks },
        '409': error('Archived'),
        '422': error(TEMPLATE_REFUSALS + ', or plan_limit_steps'),
        '429': renderBusy,
      },
    }),
  },
  '/v1/sequences/{id}/steps/order': {
    put: op('Reorder the steps', 'Steps', {
      requestParams: { path: idParams },
      ...body(stepOrderSchema),
      responses: { '200': ok(sequenceSchema), '409': error('Archived'), '422': error('Not every step listed once') },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}': {
    patch: op('Edit a step', 'Steps', {
      requestParams: { path: stepParams },
      ...body(stepPatchSchema),
      responses: {
        '200': ok(stepSchema),
        '409': error('Archived, or step_has_variants (a step with variants changes its subject and body through its variants)'),
        '422': error(TEMPLATE_REFUSALS),
        '429': renderBusy,
      },
    }),
    delete: op('Delete a step', 'Steps', {
      requestParams: { path: stepParams },
      responses: { '204': { description: 'Deleted' }, '409': error('Archived') },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}/variants': {
    post: op('Add a variant to a step; a step without variants becomes an A/B test (its own subject and body are variant A)', 'Steps', {
      description:
        'The new variant takes the next label (A–E, never reused). Enrolments already assigned a variant keep it; the new one takes its share, by weight, of the assignments made from now on. Waiting enrolments re-plan.',
      requestParams: { path: stepParams },
      ...body(variantInputSchema),
      responses: {
        '201': ok(stepSchema, 'The step with every variant it has had'),
        '409': error(
          'sequence_archived, experiment_decided (a winner was declared), or too_many_variants (at most 5, removed ones included)',
        ),
        '422': error('A template refused, the field naming it (subject, body): unknown_merge_tag, invalid_template, template_too_complex'),
        '429': renderBusy,
      },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}/variants/{variantId}': {
    patch: op('Edit a variant: its emails not sent yet go as edited; sent ones never change', 'Steps', {
      description: 'A new weight applies to assignments made from now on. The step’s own subject and body follow the variant they mirror.',
      requestParams: { path: variantParams },
      ...body(variantPatchSchema),
      responses: {
        '200': ok(stepSchema),
        '409': error('sequence_archived, or variant_ended (only active variants and the winner change)'),
        '422': error('A template refused, the field naming it (subject, body): unknown_merge_tag, invalid_template, template_too_complex'),
        '429': renderBusy,
      },
    }),
    delete: op('Remove a variant: its enrolments whose email is unsent move to the variants left, by weight', 'Steps', {
      description: 'The variant is kept as `removed` (with its emails, for the record); `moved` says how many enrolments moved.',
      requestParams: { path: variantParams },
      responses: {
        '200': ok(stepVariantChangeSchema),
        '409': error(
          'sequence_archived, variant_ended (already removed, stopped or lost), or last_variant (the only one the step can send)',
        ),
      },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}/variants/{variantId}/winner': {
    post: op('Declare the winner of a step’s experiment: every email not sent yet goes as it', 'Steps', {
      description:
        'The other active variants become `lost`; the step mirrors the winner; `moved` says how many enrolments moved to it. Once per step.',
      requestParams: { path: variantParams },
      responses: {
        '200': ok(stepVariantChangeSchema),
        '409': error('sequence_archived, experiment_decided (a winner was declared already), or variant_ended (not an active variant)'),
      },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}/preview': {
    post: op('Render a step for a lead or sample data', 'Steps', {
      requestParams: { path: stepParams },
      ...optionalBody(previewSchema),
      responses: {
        '200': ok(renderedSchema),
        '409': error('sender_retired (senderId)'),
        '422': error('The step cannot be rendered (invalid_template), or sender_not_found (senderId)'),
        '429': renderBusy,
      },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}/test': {
    post: op('Send a test email of a step to the user', 'Steps', {
      requestParams: { path: stepParams },
      ...optionalBody(testSendSchema),
      responses: {
        '202': ok(testSendAnswerSchema),
        '409': error('sender_retired (senderId)'),
        '422': error(
          'Test copies go only to the sender’s confirmed address: sender_email_unconfirmed, test_recipient_not_allowed (field to), recipient_suppressed (that address unsubscribed, bounced or is marked do not contact), sender_not_found (senderId), or the step cannot be rendered (invalid_template)',
        ),
        '429': refused429('daily_cap_reached (test copies count against the daily cap), render_busy, or rate_limited'),
      },
    }),
  },
  '/v1/sequences/{id}/stats': {
    get: op('Per-step and per-sequence statistics', 'Sequences', {
      requestParams: { path: idParams },
      responses: { '200': ok(statsSchema) },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}/experiment': {
    get: op('A step’s experiment: what each variant did, and the comparison on reply rate', 'Experiments', {
      description:
        'Every variant of the step (stopped, removed and lost ones too, with why they ended) with its counts, and, once two variants have emails sent, their reply rates compared with a Beta-Binomial model: each one’s posterior mean, 95 % credible interval and probability of being best, whether that is a decision (95 %), and how many more sends per variant one would need, in figures and in words. Opens are shown but marked unreliable (Apple Mail Privacy Protection). The attribution rule: a reply or an unsubscribe counts for the latest email the enrolment (for an unsubscribe, the lead) had received at that moment; bounces, complaints, clicks and opens for their own email. A variant whose unsubscribe or complaint rate is clearly worse than the rest’s is stopped automatically (status stopped, endedReason with the figures), the user notified, the portal told (experiment.variant_stopped).',
      requestParams: { path: stepParams },
      responses: { '200': ok(experimentSchema) },
    }),
  },
  '/v1/sequences/{id}/forecast': {
    get: op('What the sequence will send in the coming days, step by step, and what holds emails back', 'Sequences', {
      description:
        'Every live enrolment played forward by the rules the engine plans with (delays, business days, send windows, holidays and closures) and the caps a send applies (the account’s and each sender’s daily cap, per recipient domain, new leads a day), in due order: an email a cap holds moves to the next opening and takes its later steps with it. Per day of the account’s calendar: the emails of each step. `heldBack`: the emails whose time a cause moved, and the paused enrolments by what paused them. `assumptions` says what the figures take for granted.',
      requestParams: { path: idParams, query: forecastQuery },
      responses: { '200': ok(forecastSchema) },
    }),
  },
  '/v1/sequences/{id}/steps/{stepId}/impact': {
    post: op('A dry run of an edit: how many enrolments an edited delay, place or window would move, earlier or later', 'Sequences', {
      description:
        'Nothing is changed. Each active enrolment’s next email as planned now, against the next email the same rules would plan with the edit (the step’s `delay`, its `position`, the sequence’s `sendWindow`): how many would move, earlier or later, get another step next, or none; up to five examples. Daily caps, out-of-office returns and resumes are not replayed: an email they hold may go later than the edit alone says.',
      requestParams: { path: stepParams },
      ...body(stepImpactSchema),
      responses: { '200': ok(stepImpactAnswerSchema) },
    }),
  },
  '/v1/sequences/{id}/holdout': {
    get: op('The holdout against the follow-ups: reply rates of enrolments that got step 1 only and of the rest', 'Experiments', {
      description:
        'Enrolments whose holdout was decided and that were sent an email, in two groups: held out (no follow-up after step 1) and the rest. For each: how many, how many replied for real after any step, the posterior mean and 95 % credible interval of the reply rate; and the probability that the follow-ups’ rate is the higher.',
      requestParams: { path: idParams },
      responses: { '200': ok(holdoutSchema) },
    }),
  },
  '/v1/sequences/{id}/enrolments': {
    post: op('Enrol one lead', 'Enrolments', {
      requestParams: { path: idParams },
      ...body(enrolOneSchema),
      responses: {
        '201': { ...ok(enrolmentSchema), links: enrolmentLinks },
        '409': error('already_enrolled, sender_retired'),
        '422': error('Refused, with the reason as code (sender_not_found: senderId names no sender of the account)'),
      },
    }),
    get: op('List a sequence’s enrolments with counts per status', 'Enrolments', {
      requestParams: { path: idParams, query: enrolmentListQuery },
      responses: {
        '200': ok(enrolmentPageSchema),
      },
    }),
  },
  '/v1/sequences/{id}/enrolments/bulk': {
    post: op('Enrol up to 10,000 leads', 'Enrolments', {
      description:
        'With an Idempotency-Key, a retried or concurrent request answers the first request’s result (concurrent ones wait for it); the same key with a different request is refused.',
      requestParams: {
        path: idParams,
        header: idempotencyKeyHeader,
      },
      ...body(enrolManySchema),
      responses: {
        '200': ok(bulkResultSchema),
        '409': error('sender_retired: a named sender is retired'),
        '422': error(
          'idempotency_key_reused: this key was used for a different request (another sequence, other leads or senders); sender_not_found: a named sender is not one of the account’s; validation_error: senderId and senderIds both given',
        ),
      },
    }),
  },
  '/v1/enrolments/{id}': {
    get: op('An enrolment with its timeline', 'Enrolments', {
      requestParams: { path: idParams },
      responses: { '200': ok(enrolmentDetailSchema) },
    }),
  },
  ...Object.fromEntries(
    (['pause', 'resume', 'stop', 'reply'] as const).map((action) => [
      `/v1/enrolments/{id}/${action}`,
      {
        post: op(action === 'reply' ? 'Mark replied' : `${action[0]!.toUpperCase()}${action.slice(1)} one enrolment`, 'Enrolments', {
          requestParams: { path: idParams },
          responses: {
            '200': ok(enrolmentSchema, 'Done; the database has the new status'),
            '202': ok(enrolmentSchema, 'Accepted; the workflow applies it shortly'),
            '409': error(
              action === 'resume'
                ? 'The enrolment has ended (enrolment_ended), or its sender is retired (sender_retired: move it first, POST /v1/senders/{id}/retire with moveTo)'
                : 'The enrolment has ended (enrolment_ended)',
            ),
          },
        }),
      },
    ]),
  ),
  '/v1/leads': {
    post: op('Create a lead', 'Leads', {
      ...body(leadInputSchema),
      responses: { '201': { ...ok(leadSchema), links: leadLinks }, '409': error('Email already used') },
    }),
    get: op('List and search leads', 'Leads', { requestParams: { query: leadListQuery }, responses: { '200': ok(leadPageSchema) } }),
  },
  '/v1/leads/import': {
    post: op('Import up to 10,000 leads', 'Leads', { ...body(leadImportDocSchema), responses: { '200': ok(importAnswerSchema) } }),
  },
  '/v1/leads/{id}': {
    get: op('A lead', 'Leads', { requestParams: { path: idParams }, responses: { '200': ok(leadSchema) } }),
    patch: op('Update a lead', 'Leads', {
      requestParams: { path: idParams },
      ...body(leadPatchSchema),
      responses: { '200': ok(leadSchema), '409': error('Email already used') },
    }),
  },
  '/v1/leads/{id}/events': {
    post: op('The portal reports an event about a lead (a meeting booked, a deal won or lost, do not contact, its own)', 'Leads', {
      description:
        'Each live enrolment (active or paused) of the lead does what its sequence’s `leadEventRules` say: a name in `stop` stops it, one in `pause` pauses it, with the reason "the portal reported <name>"; any other name is recorded only. `do_not_contact` suppresses the lead account-wide (`doNotContactAt`): every live enrolment stops, whatever the rules, and the lead can no longer be enrolled, emailed or sent a test copy. Each affected enrolment’s timeline gets a `lead_event` entry. The same `eventKey` again is the same event: answered 200 with `duplicate` and the first request’s effects, and applied once however many requests race.',
      requestParams: { path: idParams },
      ...body(leadEventInputSchema),
      responses: {
        '201': ok(leadEventSchema, 'Recorded and applied; `effects` says what it did to each live enrolment'),
        '200': ok(leadEventSchema, 'This eventKey was seen before (`duplicate`): the first request’s event and effects'),
        '422': error('The eventKey was used for another event, of another lead or name (event_key_reused)'),
      },
    }),
  },
  '/v1/leads/{id}/emails': {
    post: op('Send a one-off email', 'Emails', {
      requestParams: { path: idParams },
      ...body(oneOffInputSchema),
      responses: {
        '202': { ...ok(oneOffAcceptedSchema), links: emailLinks },
        '422': error('Suppressed lead (no_email, unsubscribed, bounced, do_not_contact), or ' + TEMPLATE_REFUSALS),
        '429': renderBusy,
      },
    }),
  },
  '/v1/emails/{id}': {
    get: op('A one-off email’s status', 'Emails', { requestParams: { path: idParams }, responses: { '200': ok(oneOffSchema) } }),
  },
  '/v1/outbox': {
    get: op('Emails stored for this account, newest first', 'Emails', {
      requestParams: { query: pageQuery },
      responses: { '200': ok(outboxPageSchema) },
    }),
  },
  '/v1/notifications': {
    get: op('Notifications (replies), with the unread count', 'Notifications', {
      requestParams: { query: notificationQuery },
      responses: { '200': ok(notificationPageSchema) },
    }),
  },
  '/v1/inbound-emails/{id}': {
    get: op('An email that came back to a reply address: how it was read (class, evidence) and what was done', 'Inbound', {
      requestParams: { path: idParams },
      responses: { '200': ok(inboundEmailSchema) },
    }),
  },
  '/v1/inbound-emails/{id}/classification': {
    post: op('Correct how an inbound email was read ("this was a real reply", "out of office until …", "not an unsubscribe")', 'Inbound', {
      description:
        'The email then follows the policy of the corrected class as far as what already happened allows: an enrolment that ended stays ended; an unsubscription is lifted only when this email made it. The correction is on the enrolment’s timeline and sent to the portal (inbound.corrected).',
      requestParams: { path: idParams },
      ...body(classificationCorrectionSchema),
      responses: { '200': ok(classificationCorrectedSchema) },
    }),
  },
  '/v1/inbound-emails/{id}/sentiment': {
    post: op('Judge a reply positive, neutral or negative (null clears it): experiments count positive replies per variant', 'Inbound', {
      requestParams: { path: idParams },
      ...body(sentimentInputSchema),
      responses: {
        '200': ok(inboundEmailSchema),
        '409': error('not_a_reply: only an email read as a reply is judged (correct its classification first if it is one)'),
      },
    }),
  },
  '/v1/notifications/{id}/read': {
    post: op('Mark a notification read', 'Notifications', {
      requestParams: { path: idParams },
      responses: { '200': ok(notificationReadSchema) },
    }),
  },
};

// Routes outside /v1 need no API key; they prove themselves otherwise (signature, token, secret).
for (const [path, item] of Object.entries(paths)) {
  if (path.startsWith('/v1/')) continue;
  for (const operation of Object.values(item as Record<string, ZodOpenApiOperationObject>)) operation.security = [];
}

let cached: ReturnType<typeof createDocument> | undefined;

export function openApiDocument(serverUrl?: string) {
  cached ??= createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Email sequences API',
      version: '1.0.0',
      description: 'Sequences, leads and enrolments for the portal. Every error is `{ error: { code, message, field? } }`.',
    },
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An account’s API key' } } },
    security: [{ apiKey: [] }],
    paths,
  });
  return serverUrl ? { ...cached, servers: [{ url: serverUrl }] } : cached;
}
