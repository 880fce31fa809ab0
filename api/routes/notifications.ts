import { Router } from 'express';
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { notifications } from '../../db/schema.js';
import type { AppDeps } from '../deps.js';
import { notFound } from '../errors.js';
import { keyset, pageOf } from '../pagination.js';
import { cursorParam, idParams } from '../schemas/common.js';
import { sequenceStats } from '../services/stats.js';
import { findSequence } from '../services/sequences.js';
import type { notificationSchema, statsSchema } from '../schemas/responses.js';
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
  const { db } = deps.database;
  const router = Router();

  router.get('/notifications', async (req, res) => {
    const { unread, limit, cursor } = parse(notificationQuery, req.query, 'query');
    const { where, orderBy } = keyset(cursor, notifications.createdAt, notifications.id, 'desc');
    const accountId = res.locals.account.id;
    const rows = await db
      .select()
      .from(notifications)
      .where(and(eq(notifications.accountId, accountId), unread ? isNull(notifications.readAt) : undefined, where))
      .orderBy(...orderBy)
      .limit(limit + 1);
    const { page, nextCursor } = pageOf(rows, limit, (n) => ({ at: n.createdAt, id: n.id }));
    const unreadRows = await db.$count(notifications, and(eq(notifications.accountId, accountId), isNull(notifications.readAt)));
    res.json({
      unread: unreadRows,
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
    const [row] = await db
      .update(notifications)
      .set({ readAt: new Date() })
      .where(and(eq(notifications.id, id), eq(notifications.accountId, res.locals.account.id)))
      .returning();
    if (!row) throw notFound('Notification');
    res.json({ id: row.id, read: true });
  });

  router.get('/sequences/:id/stats', async (req, res) => {
    const { id } = parse(idParams, req.params, 'params');
    await findSequence(db, res.locals.account, id);
    res.json((await sequenceStats(db, id)) satisfies z.input<typeof statsSchema>);
  });

  return router;
}
