import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams } from '../schemas/common.js';
import {
  senderCreateSchema,
  senderListQuery,
  senderPageSchema,
  senderPatchSchema,
  senderRetiredSchema,
  senderRetireSchema,
  senderSchema,
} from '../schemas/senders.js';
import { createSender, findSender, listSenders, resumeSender, retireSender, toSenderDto, updateSender } from '../services/senders.js';
import { protectionReason } from '../../domain/deliverability.js';
import { parse } from '../validate.js';
import { startSenderBroadcast } from '../../temporal/client.js';

/** The reps an account's emails go out as: created, listed, changed and retired (never deleted). */
export function senderRoutes(deps: AppDeps): Router {
  const { db } = deps.database;
  const router = Router();

  router.post('/senders', async (req, res) => {
    const input = parse(senderCreateSchema, req.body);
    const sender = await createSender(db, res.locals.account, input);
    // The first sender becomes the account's default: read it back as it now is.
    const account = { defaultSenderId: res.locals.account.defaultSenderId ?? sender.id };
    answer(res, 201, senderSchema, toSenderDto(sender, account));
  });

  router.get('/senders', async (req, res) => {
    const query = parse(senderListQuery, req.query, 'query');
    const { page, nextCursor } = await listSenders(db, res.locals.account, query);
    answer(res, 200, senderPageSchema, { data: page.map((s) => toSenderDto(s, res.locals.account)), nextCursor });
  });

  router.get('/senders/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    answer(res, 200, senderSchema, toSenderDto(await findSender(db, res.locals.account, id), res.locals.account));
  });

  router.patch('/senders/:id', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const patch = parse(senderPatchSchema, req.body);
    const { sender, capChanged } = await updateSender(db, res.locals.account, id, patch);
    // A new cap or day boundary: emails waiting for the old one plan again (a raised cap sends them now).
    if (capChanged) {
      await startSenderBroadcast(deps, {
        senderOf: { accountId: res.locals.account.id, senderId: id },
        signal: 'reschedule',
        reason: 'the sender’s daily cap changed',
      });
    }
    answer(res, 200, senderSchema, toSenderDto(sender, res.locals.account));
  });

  // A person resumes a sender the bounce and complaint breaker paused: what the trip paused goes on.
  router.post('/senders/:id/resume', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const { sender, resumed } = await resumeSender(db, res.locals.account, id);
    if (resumed) {
      await startSenderBroadcast(deps, {
        senderOf: { accountId: res.locals.account.id, senderId: id },
        signal: 'resume',
        reason: protectionReason(resumed),
      });
    }
    answer(res, 200, senderSchema, toSenderDto(sender, res.locals.account));
  });

  router.post('/senders/:id/retire', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const request = parse(senderRetireSchema, req.body ?? {});
    const outcome = await retireSender({ db, temporal: deps.temporal, config: deps.config }, res.locals.account, id, request);
    answer(res, 200, senderRetiredSchema, {
      sender: toSenderDto(outcome.sender, { defaultSenderId: outcome.defaultSenderId }),
      paused: outcome.paused,
      moved: outcome.moved,
      sequencesMoved: outcome.sequencesMoved,
    });
  });

  return router;
}
