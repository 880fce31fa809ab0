import { z } from 'zod';
import { CUSTOM_FIELD_MAX_LENGTH, isCustomFieldName } from '../../domain/merge-fields.js';
import { cursorParam, holidayRegion, page, timezone } from './common.js';

const field = (max = 200) => z.string().trim().max(max);

export const customFieldsSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z0-9_]{1,64}$/, 'custom field names use letters, digits and _ (at most 64)')
      .refine(
        isCustomFieldName,
        'custom field names use letters, digits and _ (at most 64), and are not names every object has, such as constructor or __proto__',
      ),
    z.string().max(CUSTOM_FIELD_MAX_LENGTH),
  )
  .refine((o) => Object.keys(o).length <= 100, { message: 'at most 100 custom fields' })
  .meta({
    description: 'At most 100; names of letters, digits and _, not one every object has (constructor, __proto__, toString…)',
    override: { maxProperties: 100 },
  });

export const leadInputSchema = z.object({
  // zod's email rule, stated in the document as its pattern: JSON Schema's `format: email` is a
  // different rule (a fuzzer's address of one may fail the other).
  email: z
    .email()
    .max(320)
    .toLowerCase()
    .meta({ override: ({ jsonSchema }: { jsonSchema: { format?: string } }) => void delete jsonSchema.format })
    .nullable()
    .optional(),
  firstName: field().default(''),
  lastName: field().default(''),
  company: field().default(''),
  title: field().default(''),
  phone: field(50).default(''),
  timezone: timezone.nullable().optional(),
  country: holidayRegion.nullable().optional().describe('Whose public holidays the lead keeps; null: the account’s country'),
  customFields: customFieldsSchema.default({}),
  companyId: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .nullable()
    .optional()
    .describe(
      'The portal’s id of the lead’s company: leads with the same one are colleagues (otherwise: the same email domain, free mail aside)',
    ),
});
export const leadPatchSchema = leadInputSchema
  .partial()
  .extend({ firstName: field(), lastName: field(), company: field(), title: field(), phone: field(50), customFields: customFieldsSchema })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'nothing to change' })
  .meta({ override: { minProperties: 1 } });

export const MAX_BULK = 10_000;
export const leadImportSchema = z.object({
  leads: z.array(z.unknown()).min(1).max(MAX_BULK, `at most ${MAX_BULK} leads per request`),
});

// Rows are validated one by one (an invalid row is answered, not fatal), each as a lead, so the
// document says a row may be anything: an invalid one is answered in `results`, not refused.
export const leadImportDocSchema = leadImportSchema.extend({
  leads: z
    .array(
      z.union([leadInputSchema, z.unknown().describe('A row that is not a lead: answered as invalid in results, the other rows imported')]),
    )
    .min(1)
    .max(MAX_BULK),
});
export const importResultSchema = z.discriminatedUnion('status', [
  z.object({ index: z.number().int(), status: z.enum(['created', 'updated']), id: z.uuid() }),
  z.object({ index: z.number().int(), status: z.literal('invalid'), field: z.string().optional(), message: z.string() }),
]);
export const importAnswerSchema = z.object({
  created: z.number().int(),
  updated: z.number().int(),
  invalid: z.number().int(),
  results: z.array(importResultSchema),
});

export const leadListQuery = z.object({
  search: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: cursorParam.optional(),
});

export const leadSchema = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  firstName: z.string(),
  lastName: z.string(),
  company: z.string(),
  title: z.string(),
  phone: z.string(),
  timezone: z.string().nullable(),
  country: z.string().nullable().describe('Whose public holidays the lead keeps; null: the account’s country'),
  customFields: z.record(z.string(), z.string()),
  companyId: z.string().nullable(),
  unsubscribedAt: z.iso.datetime().nullable(),
  bouncedAt: z.iso.datetime().nullable(),
  doNotContactAt: z.iso.datetime().nullable().describe('The portal said never to contact this lead (event do_not_contact)'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export const leadPageSchema = page(leadSchema);
