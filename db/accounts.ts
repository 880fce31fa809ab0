import { and, eq, isNull } from 'drizzle-orm';
import { generateApiKey } from '../domain/api-key.js';
import type { Db } from './client.js';
import { accounts, apiKeys, senders } from './schema.js';

export type Account = typeof accounts.$inferSelect;
export type SenderRow = typeof senders.$inferSelect;
export type SenderValues = Partial<Omit<typeof senders.$inferInsert, 'id' | 'accountId'>>;

/** An account with its API key, and (when `sender` is given) its first sender as the default. */
export async function createAccount(
  db: Db,
  values: Partial<typeof accounts.$inferInsert> & { name: string; sender?: SenderValues },
): Promise<{ account: Account; apiKey: string; sender: SenderRow | null }> {
  const { sender: senderValues, ...accountValues } = values;
  return db.transaction(async (tx) => {
    let [account] = await tx.insert(accounts).values(accountValues).returning();
    let sender: SenderRow | undefined;
    if (senderValues) {
      [sender] = await tx
        .insert(senders)
        .values({ ...senderValues, accountId: account!.id })
        .returning();
      [account] = await tx.update(accounts).set({ defaultSenderId: sender!.id }).where(eq(accounts.id, account!.id)).returning();
    }
    const apiKey = await issueApiKey(tx as unknown as Db, account!.id);
    return { account: account!, apiKey, sender: sender ?? null };
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
