import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { Mailer } from './mailer.js';
import { createPlanNextStep } from './plan-next-step.js';
import { createRecordReply, createRecordStatus } from './record-status.js';
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

/** Activities are plain async functions; their dependencies come in here, once per worker. */
export function createActivities(deps: ActivityDeps) {
  return {
    planNextStep: createPlanNextStep(deps),
    sendStep: createSendStep(deps),
    recordStatus: createRecordStatus(deps),
    recordReply: createRecordReply(deps),
    signalEnrolmentPage: createSignalEnrolmentPage(deps),
  };
}

export type EnrolmentActivities = ReturnType<typeof createActivities>;
