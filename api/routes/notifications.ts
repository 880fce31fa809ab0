import { Router } from 'express';
import { answer } from '../answer.js';
import type { AppDeps } from '../deps.js';
import { idParams } from '../schemas/common.js';
import { notificationPageSchema, notificationQuery, notificationReadSchema } from '../schemas/notifications.js';
import { listNotifications, markNotificationRead } from '../services/notifications.js';
import { parse } from '../validate.js';

export function notificationRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db };
  const router = Router();

  router.get('/notifications', async (req, res) => {
    const query = parse(notificationQuery, req.query, 'query');
    const { unread, page, nextCursor } = await listNotifications(services, res.locals.account, query);
    answer(res, 200, notificationPageSchema, {
      unread,
      data: page.map((n) => ({
        id: n.id,
        type: n.type,
        title: n.title,
        body: n.body,
        enrolmentId: n.enrolmentId,
        leadId: n.leadId,
        senderId: n.senderId,
        read: n.readAt !== null,
        createdAt: n.createdAt.toISOString(),
      })),
      nextCursor,
    });
  });

  router.post('/notifications/:id/read', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const row = await markNotificationRead(services, res.locals.account, id);
    answer(res, 200, notificationReadSchema, { id: row.id, read: true });
  });

  return router;
}
