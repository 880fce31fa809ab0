import { and, asc, desc, eq, gt, lt, or, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { encodeCursor } from './schemas/common.js';

/**
 * Keyset pagination over (time, id): stable under inserts and as fast on page 500 as on page 1.
 * `where` continues after the cursor; fetch `limit + 1` rows and let `pageOf` cut the page.
 */
export function keyset(after: { at: Date; id: string } | undefined, at: PgColumn, id: PgColumn, direction: 'asc' | 'desc') {
  const beyond = direction === 'desc' ? lt : gt;
  const order = direction === 'desc' ? desc : asc;
  return {
    where: (after ? or(beyond(at, after.at), and(eq(at, after.at), beyond(id, after.id))) : undefined) as SQL | undefined,
    orderBy: [order(at), order(id)] as const,
  };
}

export function pageOf<T>(rows: T[], limit: number, keyOf: (row: T) => { at: Date; id: string }) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last).at, keyOf(last).id) : null };
}
