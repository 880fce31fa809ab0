import { Router } from 'express';
import type { z } from 'zod';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { toEnrolmentDto, toLeadDto } from '../dto.js';
import { ApiError } from '../errors.js';
import { idParams } from '../schemas/common.js';
import {
  bulkResultSchema,
  enrolManySchema,
  enrolmentDetailSchema,
  enrolmentListQuery,
  enrolmentPageSchema,
  enrolmentSchema,
  enrolOneSchema,
  idempotencyKeyHeader,
  type timelineEventSchema,
} from '../schemas/enrolments.js';
import { controlEnrolment, enrolLeads, enrolmentDetail, findEnrolment, listSequenceEnrolments } from '../services/enrolments.js';
import { findSequence } from '../services/sequences.js';
import { parse } from '../validate.js';

type EnrolmentRow = Parameters<typeof toEnrolmentDto>[0] & Record<'holdout', boolean | null>;
const enrolmentDto = (e: EnrolmentRow) => ({ ...toEnrolmentDto(e), holdout: e.holdout });

export function enrolmentRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const services = { db, temporal: deps.temporal, config: deps.config, logger: deps.logger };
  const router = Router();

  router.post('/sequences/:id/enrolments', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { leadId, senderId } = parse(enrolOneSchema, req.body);
    const sequence = await findSequence(db, res.locals.account, id);
    const result = (await enrolLeads(services, res.locals.account, sequence, [leadId], { senders: { senderId } }))[0]!;
    if (result.status === 'skipped') {
      const status = result.reason === 'lead_not_found' ? 404 : result.reason === 'already_enrolled' ? 409 : 422;
      throw new ApiError(status, result.reason, result.message, 'leadId');
    }
    const enrolment = await findEnrolment(db, res.locals.account, result.enrolmentId);
    answer(res, 201, enrolmentSchema, enrolmentDto(enrolment));
  });

  router.post('/sequences/:id/enrolments/bulk', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { leadIds, senderId, senderIds, leadSenders } = parse(enrolManySchema, req.body);
    const idempotencyKey = req.get('idempotency-key');
    if (!idempotencyKeyHeader.safeParse({ 'idempotency-key': idempotencyKey }).success) {
      throw new ApiError(400, 'validation_error', 'Idempotency-Key must be 1-200 visible ASCII characters', 'Idempotency-Key');
    }
    const sequence = await findSequence(db, res.locals.account, id);
    const results = await enrolLeads(services, res.locals.account, sequence, leadIds, {
      idempotencyKey,
      senders: { senderId, senderIds, leadSenders },
    });
    const enrolled = results.filter((r) => r.status === 'enrolled').length;
    answer(res, 200, bulkResultSchema, { enrolled, skipped: results.length - enrolled, results });
  });

  router.get('/sequences/:id/enrolments', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const query = parse(enrolmentListQuery, req.query, 'query');
    await findSequence(db, res.locals.account, id);
    const { page, counts, nextCursor } = await listSequenceEnrolments(db, id, query);
    answer(res, 200, enrolmentPageSchema, {
      data: page.map((r) => ({ ...enrolmentDto(r.enrolment), lead: r.lead })),
      ...(counts ? { counts } : {}),
      nextCursor,
    });
  });

  router.get('/enrolments/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const detail = await enrolmentDetail(services, res.locals.account, id);
    const iso = (d: Date | null) => d?.toISOString() ?? null;
    answer(res, 200, enrolmentDetailSchema, {
      ...enrolmentDto(detail.enrolment),
      replyTo: detail.replyTo,
      lead: toLeadDto(detail.lead),
      messages: detail.messages.map((m) => ({
        ...m,
        sentAt: iso(m.sentAt),
        deliveredAt: iso(m.deliveredAt),
        firstOpenedAt: iso(m.firstOpenedAt),
        firstClickedAt: iso(m.firstClickedAt),
      })),
      variants: detail.variants,
      // Entries are answered as stored: their details are JSON each writer shapes by its type, so
      // the type system cannot follow them here; the fuzz suite's response check (test/api-fuzz.test.ts) holds them to the document.
      timeline: detail.events.map((e) => ({
        type: e.type,
        at: e.createdAt.toISOString(),
        ...(e.fromStatus ? { from: e.fromStatus } : {}),
        ...(e.toStatus ? { to: e.toStatus } : {}),
        ...e.detail,
      })) as z.input<typeof timelineEventSchema>[],
    });
  });

  for (const action of ['pause', 'resume', 'stop', 'reply'] as const) {
    router.post(`/enrolments/:id/${action}`, async (req, res) => {
      const { id } = parse(idParams, req.params, 'params');
      const { state } = await controlEnrolment(services, res.locals.account, id, action);
      const enrolment = await findEnrolment(db, res.locals.account, id);
      // 200 when the new status is already in the database; 202 when the workflow has it queued.
      answer(res, state ? 200 : 202, enrolmentSchema, enrolmentDto(enrolment));
    });
  }

  return router;
}
