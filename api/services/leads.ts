import { and, eq, ilike, or, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Account } from '../../db/accounts.js';
import type { Db } from '../../db/client.js';
import { enrolments, leads } from '../../db/schema.js';
import { isLiveEnrolment } from '../../db/enrolment-queries.js';
import { companyKeyOf } from '../../domain/company.js';
import { ApiError, notFound } from '../errors.js';
import { keyset, pageOf } from '../pagination.js';
import { leadInputSchema, type leadListQuery, type leadPatchSchema } from '../schemas/leads.js';

// Leads: an account's people, created one by one or imported in bulk (matched by email), listed,
// searched, read and changed. An email address is one lead per account.

export type Lead = typeof leads.$inferSelect;
type LeadInput = z.infer<typeof leadInputSchema>;

interface Deps {
  db: Db;
}

export type ImportResult =
  { index: number; status: 'created' | 'updated'; id: string } | { index: number; status: 'invalid'; field?: string; message: string };

const isUniqueViolation = (error: unknown) =>
  (error as { code?: string })?.code === '23505' || (error as { cause?: { code?: string } })?.cause?.code === '23505';
const duplicateEmail = () => new ApiError(409, 'lead_exists', 'A lead with this email address already exists', 'email');

export async function createLead({ db }: Deps, account: Account, input: LeadInput): Promise<Lead> {
  try {
    const [lead] = await db
      .insert(leads)
      .values({ ...input, accountId: account.id, companyKey: companyKeyOf(input) })
      .returning();
    return lead!;
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateEmail();
    throw error;
  }
}

/** Creates new leads and updates existing ones (matched by email); each row answers alone. */
export async function importLeads({ db }: Deps, account: Account, rows: unknown[]) {
  const accountId = account.id;
  const results: ImportResult[] = [];
  const valid: { index: number; value: LeadInput }[] = [];
  const seenEmails = new Set<string>();
  rows.forEach((row, index) => {
    const parsed = leadInputSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      results.push({ index, status: 'invalid', field: issue.path.join('.') || undefined, message: issue.message });
    } else if (parsed.data.email && seenEmails.has(parsed.data.email)) {
      results.push({ index, status: 'invalid', field: 'email', message: 'this email appears earlier in the import' });
    } else {
      if (parsed.data.email) seenEmails.add(parsed.data.email);
      valid.push({ index, value: parsed.data });
    }
  });
  await db.transaction(async (tx) => {
    for (let i = 0; i < valid.length; i += 1_000) {
      const part = valid.slice(i, i + 1_000);
      const withEmail = part.filter((p) => p.value.email);
      const withoutEmail = part.filter((p) => !p.value.email);
      if (withEmail.length) {
        const upserted = await tx
          .insert(leads)
          .values(withEmail.map((p) => ({ ...p.value, accountId, companyKey: companyKeyOf(p.value) })))
          .onConflictDoUpdate({
            target: [leads.accountId, leads.email],
            set: {
              firstName: sql`excluded.first_name`,
              lastName: sql`excluded.last_name`,
              company: sql`excluded.company`,
              title: sql`excluded.title`,
              phone: sql`excluded.phone`,
              timezone: sql`coalesce(excluded.timezone, ${leads.timezone})`,
              country: sql`coalesce(excluded.country, ${leads.country})`,
              customFields: sql`${leads.customFields} || excluded.custom_fields`,
              // A row without a company id keeps the lead's (and the key it gave); the email is the same.
              companyId: sql`coalesce(excluded.company_id, ${leads.companyId})`,
              companyKey: sql`case when excluded.company_id is null and ${leads.companyId} is not null then ${leads.companyKey} else excluded.company_key end`,
              updatedAt: new Date(),
            },
          })
          .returning({ id: leads.id, email: leads.email, created: sql<boolean>`(xmax = 0)` });
        const byEmail = new Map(upserted.map((u) => [u.email, u]));
        for (const p of withEmail) {
          const row = byEmail.get(p.value.email!)!;
          results.push({ index: p.index, status: row.created ? 'created' : 'updated', id: row.id });
        }
      }
      if (withoutEmail.length) {
        const inserted = await tx
          .insert(leads)
          .values(withoutEmail.map((p) => ({ ...p.value, email: null, accountId, companyKey: companyKeyOf({ ...p.value, email: null }) })))
          .returning({ id: leads.id });
        withoutEmail.forEach((p, j) => results.push({ index: p.index, status: 'created', id: inserted[j]!.id }));
      }
    }
  });
  results.sort((a, b) => a.index - b.index);
  const tally = (s: string) => results.filter((r) => r.status === s).length;
  return { created: tally('created'), updated: tally('updated'), invalid: tally('invalid'), results };
}

/** A page of the account's leads, oldest first; `search` matches email, names and company. */
export async function listLeads({ db }: Deps, account: Account, query: z.infer<typeof leadListQuery>) {
  const { search, limit, cursor } = query;
  const { where, orderBy } = keyset(cursor, leads.createdAt, leads.id, 'asc');
  const pattern = search ? `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
  const rows = await db
    .select()
    .from(leads)
    .where(
      and(
        eq(leads.accountId, account.id),
        pattern
          ? or(ilike(leads.email, pattern), ilike(leads.firstName, pattern), ilike(leads.lastName, pattern), ilike(leads.company, pattern))
          : undefined,
        where,
      ),
    )
    .orderBy(...orderBy)
    .limit(limit + 1);
  return pageOf(rows, limit, (l) => ({ at: l.createdAt, id: l.id }));
}

export async function findLead({ db }: Deps, account: Account, id: string): Promise<Lead> {
  const [lead] = await db
    .select()
    .from(leads)
    .where(and(eq(leads.id, id), eq(leads.accountId, account.id)));
  if (!lead) throw notFound('Lead');
  return lead;
}

/**
 * Changes a lead. `replan` names its live enrolments when what their schedules read changed (its
 * time zone or holiday country): they plan again.
 */
export async function updateLead(
  { db }: Deps,
  account: Account,
  id: string,
  patch: z.infer<typeof leadPatchSchema>,
): Promise<{ lead: Lead; replan: string[] }> {
  try {
    return await db.transaction(async (tx) => {
      const [current] = await tx
        .select({ email: leads.email, companyId: leads.companyId, timezone: leads.timezone, country: leads.country })
        .from(leads)
        .where(and(eq(leads.id, id), eq(leads.accountId, account.id)))
        .for('update');
      if (!current) throw notFound('Lead');
      const [lead] = await tx
        .update(leads)
        .set({ ...patch, companyKey: companyKeyOf({ ...current, ...patch }), updatedAt: new Date() })
        .where(and(eq(leads.id, id), eq(leads.accountId, account.id)))
        .returning();
      const scheduleChanged = lead!.timezone !== current.timezone || lead!.country !== current.country;
      const replan = scheduleChanged
        ? (
            await tx
              .select({ id: enrolments.id })
              .from(enrolments)
              .where(and(eq(enrolments.leadId, id), eq(enrolments.accountId, account.id), isLiveEnrolment()))
          ).map((e) => e.id)
        : [];
      return { lead: lead!, replan };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateEmail();
    throw error;
  }
}
