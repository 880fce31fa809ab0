import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../../db/client.js';

/**
 * A fingerprint of everything one account owns: for the account row and every table with an
 * `account_id` column (found in the catalogue, so a new table is covered without editing this),
 * the number of rows and a hash of their full contents. Two equal snapshots mean nothing of the
 * account was created, changed or deleted in between.
 */
export type AccountSnapshot = Record<string, { rows: number; hash: string | null }>;

export async function accountSnapshot(db: Db, accountId: string): Promise<AccountSnapshot> {
  const tables = rowsOf<{ table_name: string }>(
    await db.execute(sql`
      select table_name from information_schema.columns
      where table_schema = current_schema() and column_name = 'account_id'
      order by table_name`),
  ).map((t) => t.table_name);
  const snapshot: AccountSnapshot = {};
  for (const table of ['accounts', ...tables]) {
    const column = table === 'accounts' ? 'id' : 'account_id';
    const [row] = rowsOf<{ rows: number; hash: string | null }>(
      await db.execute(sql`
        select count(*)::int as rows, md5(string_agg(t::text, '|' order by t::text)) as hash
        from ${sql.identifier(table)} t where ${sql.identifier(column)} = ${accountId}`),
    );
    snapshot[table] = row!;
  }
  return snapshot;
}

/** The account's snapshot once background work (sends, replies) has stopped changing it. */
export async function settledSnapshot(db: Db, accountId: string, quietMs = 750): Promise<AccountSnapshot> {
  let previous = await accountSnapshot(db, accountId);
  for (let attempt = 0; attempt < 40; attempt += 1) {
    await new Promise((r) => setTimeout(r, quietMs));
    const current = await accountSnapshot(db, accountId);
    if (JSON.stringify(current) === JSON.stringify(previous)) return current;
    previous = current;
  }
  throw new Error(`account ${accountId} kept changing for ${(40 * quietMs) / 1000} s`);
}
