import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import { createOutboxMailer, type Mailer } from './mailer.js';
import { createForwardReply } from './forward-reply.js';
import { createPlanNextStep } from './plan-next-step.js';
import { createDeliverPortalWebhook } from './portal-webhook.js';
import { createRecordReply, createRecordStatus } from './record-status.js';
import { createResendMailer } from './resend-mailer.js';
import { createSendOneOff } from './send-one-off.js';
import { createSendStep } from './send-email.js';
import { createSignalEnrolmentPage } from './signal-enrolments.js';

export type { NextStepPlan } from './plan-next-step.js';
export type { SendOutcome } from './send-email.js';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  config: Config;
  logger: Logger;
  temporal: Client;
}

/**
 * Activities are plain async functions; their dependencies come in here, once per worker. They
 * come in two groups because they run on two task queues: the database work on the main queue
 * (most of it as local activities), and everything that talks to the email provider on the
 * rate-limited sends queue (`sendsTaskQueue` in workflows/contract.ts).
 */
export function createDatabaseActivities(deps: ActivityDeps) {
  return {
    planNextStep: createPlanNextStep(deps),
    recordStatus: createRecordStatus(deps),
    recordReply: createRecordReply(deps),
    signalEnrolmentPage: createSignalEnrolmentPage(deps),
    deliverPortalWebhook: createDeliverPortalWebhook(deps),
  };
}

/**
 * What the workflows' worker runs on the main queue: the database activities and, with no send
 * rate set, a step's send as a local activity (the plan says which: `NextStepPlan.sendsLocally`).
 */
export function createMainQueueActivities(deps: ActivityDeps) {
  return { ...createDatabaseActivities(deps), sendStep: createSendStep(deps) };
}

export function createSendingActivities(deps: ActivityDeps) {
  return {
    sendStep: createSendStep(deps),
    sendOneOff: createSendOneOff(deps),
    forwardReply: createForwardReply(deps),
  };
}

/** Resend when a key is configured; otherwise the local outbox, so `npm start` works offline. */
export function mailerFor(config: Config, logger: Logger): Mailer {
  return config.RESEND_API_KEY
    ? createResendMailer({ apiKey: config.RESEND_API_KEY, baseUrl: config.RESEND_BASE_URL, logger })
    : createOutboxMailer(logger);
}

/** What workflows may call on the main task queue. */
export type DatabaseActivities = ReturnType<typeof createDatabaseActivities>;
/** What workflows may call on the sends task queue, and only there. */
export type SendingActivities = ReturnType<typeof createSendingActivities>;
