import { z } from 'zod';
import { isValidTimezone } from '../../domain/schedule.js';

export const uuidParam = z.uuid({ message: 'must be an id (UUID)' });
export const idParams = z.object({ id: uuidParam });

export const timezone = z.string().max(64).refine(isValidTimezone, { message: 'must be an IANA time zone such as Europe/Paris' });

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

/** Keyset cursors: "<iso time>|<id>", opaque to clients. */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}
export function decodeCursor(cursor: string | undefined): { at: Date; id: string } | undefined {
  if (!cursor) return undefined;
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(at ?? '');
  if (!id || Number.isNaN(date.getTime()) || !uuidParam.safeParse(id).success) return undefined;
  return { at: date, id };
}
