import { z } from 'zod';
import { protectionSchema } from './sequences.js';
import { cursorParam, mailbox, nonBlank, page, timezone } from './common.js';

// Senders: the reps an account's emails go out as (README, "Senders").

const iso = z.iso.datetime();
const name = z.string().trim().min(1).max(200).meta(nonBlank);
const signature = z.string().max(5000);
const dailyCap = z
  .number()
  .int()
  .min(1)
  .max(100_000)
  .nullable()
  .describe('At most this many emails a day from this sender, counted in their time zone (the account’s cap also applies); null: none');

export const senderCreateSchema = z.object({
  name,
  email: mailbox.describe('The sender’s own mailbox: replies are forwarded there and test copies go there once it is confirmed'),
  signature: signature.optional(),
  timezone: timezone.nullable().optional().describe('The zone their daily cap’s day is counted in; null: the account’s'),
  dailyCap: dailyCap.optional(),
});

export const senderPatchSchema = z
  .object({
    name,
    email: mailbox.describe('A new address must be confirmed again before anything is forwarded or test-sent there'),
    signature,
    timezone: timezone.nullable(),
    dailyCap,
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' })
  .meta({ override: { minProperties: 1 } });

export const senderSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  email: z.string().nullable().describe('Null only for a sender made from an account’s former name-only sender'),
  emailConfirmed: z.boolean().describe('The sender proved they read the mailbox (a signed link sent there was confirmed)'),
  signature: z.string(),
  timezone: z.string().nullable(),
  dailyCap: z.number().int().nullable(),
  status: z.enum(['active', 'retired']),
  isDefault: z.boolean().describe('The account’s default sender: sequences without their own send as them'),
  retiredAt: iso.nullable(),
  protection: protectionSchema
    .nullable()
    .describe(
      'The bounce and complaint breaker’s last trip on this sender’s own emails; while not resumed, nothing goes as them (POST /v1/senders/{id}/resume)',
    ),
  createdAt: iso,
});

export const senderListQuery = z.object({
  status: z.enum(['active', 'retired']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: cursorParam.optional(),
});
export const senderPageSchema = page(senderSchema);

export const senderRetireSchema = z.object({
  liveEnrolments: z
    .enum(['pause', 'move'])
    .optional()
    .describe(
      'What becomes of the sender’s live enrolments: paused (with the reason on their timeline) or moved to `moveTo`. Required when there are any',
    ),
  moveTo: z
    .uuid()
    .optional()
    .describe(
      'With move: the live sender of this account who takes over their enrolments and sequences. A retired sender may be retired again with move, to move the enrolments a pause left with them',
    ),
});

export const senderRetiredSchema = z.object({
  sender: senderSchema,
  paused: z.number().int().describe('Live enrolments left with the sender, paused (the pause reaches each workflow within moments)'),
  moved: z.number().int().describe('Live enrolments moved to moveTo'),
  sequencesMoved: z.number().int().describe('Sequences whose default sender was this one: now moveTo’s, or the account’s default'),
});
