import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { cursorParam, idParams } from '../schemas/common.js';
import type { notificationSchema } from '../schemas/responses.js';
import { listNotifications, markNotificationRead } from '../services/notifications.js';
import { parse } from '../validate.js';

export const notificationQuery = z.object({
  // stringbool's words, stated as an enum (the document rendered a bare string).
  unread: z
    .stringbool()
    .optional()
    .meta({
      override: {
        type: 'string',
        enum: ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', 'y', 'n', 'enabled', 'disabled'],
        description: 'Only unread ones (any letter case)',
      },
    }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: cursorParam.optional(),
});

export function notificationRoutes(deps: AppDeps): Router {
  const services = { db: deps.database.db };
  const router = Router();

  router.get('/notifications', async (req, res) => {
    const query = parse(notificationQuery, req.query, 'query');
    const { unread, page, nextCursor } = await listNotifications(services, res.locals.account, query);
    res.json({
      unread,
      data: page.map(
        (n) =>
          ({
            id: n.id,
            type: n.type,
            title: n.title,
            body: n.body,
            enrolmentId: n.enrolmentId,
            leadId: n.leadId,
            read: n.readAt !== null,
            createdAt: n.createdAt.toISOString(),
          }) satisfies z.input<typeof notificationSchema>,
      ),
      nextCursor,
    });
  });

  router.post('/notifications/:id/read', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    const row = await markNotificationRead(services, res.locals.account, id);
    res.json({ id: row.id, read: true });
  });

  return router;
}
