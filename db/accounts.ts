import { and, eq, isNull } from 'drizzle-orm';
import { generateApiKey } from '../domain/api-key.js';
import type { Db } from './client.js';
import { accounts, apiKeys } from './schema.js';

export type Account = typeof accounts.$inferSelect;

export async function createAccount(
  db: Db,
  values: Partial<typeof accounts.$inferInsert> & { name: string },
): Promise<{ account: Account; apiKey: string }> {
  return db.transaction(async (tx) => {
    const [account] = await tx.insert(accounts).values(values).returning();
    const apiKey = await issueApiKey(tx as unknown as Db, account!.id);
    return { account: account!, apiKey };
  });
}

export async function issueApiKey(db: Db, accountId: string, name = 'default'): Promise<string> {
  const { key, prefix, secretHash } = generateApiKey();
  await db.insert(apiKeys).values({ accountId, name, prefix, secretHash });
  return key;
}

export async function revokeApiKey(db: Db, prefix: string): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.prefix, prefix), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}
