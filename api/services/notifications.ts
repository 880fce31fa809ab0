import { and, eq, isNull } from 'drizzle-orm';
import type { Account } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { notifications } from '../../db/schema.js';
import { notFound } from '../errors.js';
import { keyset, pageOf } from '../pagination.js';

// The account's notifications (written when a reply arrives, by api/services/inbound.ts): listed
// newest first with the unread count, and marked read.

interface Deps {
  db: Db;
}

export type Notification = typeof notifications.$inferSelect;

export async function listNotifications(
  { db }: Deps,
  account: Account,
  { unread, limit, cursor }: { unread?: boolean; limit: number; cursor?: { at: Date; id: string } },
) {
  const { where, orderBy } = keyset(cursor, notifications.createdAt, notifications.id, 'desc');
  const accountId = account.id;
  const rows = await db
    .select()
    .from(notifications)
    .where(and(eq(notifications.accountId, accountId), unread ? isNull(notifications.readAt) : undefined, where))
    .orderBy(...orderBy)
    .limit(limit + 1);
  const { page, nextCursor } = pageOf(rows, limit, (n) => ({ at: n.createdAt, id: n.id }));
  const unreadCount = await db.$count(notifications, and(eq(notifications.accountId, accountId), isNull(notifications.readAt)));
  return { unread: unreadCount, page, nextCursor };
}

export async function markNotificationRead({ db }: Deps, account: Account, id: string): Promise<Notification> {
  const [row] = await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(eq(notifications.id, id), eq(notifications.accountId, account.id)))
    .returning();
  if (!row) throw notFound('Notification');
  return row;
}
