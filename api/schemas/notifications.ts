import { z } from 'zod';
import { NOTIFICATION_TYPES } from '../../db/schema.js';
import { cursorParam, page } from './common.js';

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

export const notificationSchema = z.object({
  id: z.uuid(),
  type: z.enum(NOTIFICATION_TYPES),
  title: z.string(),
  body: z.string(),
  enrolmentId: z.uuid().nullable(),
  leadId: z.uuid().nullable(),
  senderId: z.uuid().nullable().describe('The sender whose email it is about (a reply to their email): who should act on it'),
  read: z.boolean(),
  createdAt: z.iso.datetime(),
});
export const notificationPageSchema = page(notificationSchema).extend({ unread: z.number().int() });
export const notificationReadSchema = z.object({ id: z.uuid(), read: z.boolean() });
