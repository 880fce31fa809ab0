import type { RequestHandler } from 'express';
import { eq } from 'drizzle-orm';
import type { Account } from '../db/accounts.js';
import type { Db } from '../db/client.js';
import { accounts, apiKeys } from '../db/schema.js';
import { parseApiKey, secretMatches } from '../domain/api-key.js';
import { ApiError } from './errors.js';

declare module 'express-serve-static-core' {
  interface Locals {
    account: Account;
    /** The key the request came with: what rate limits count by. */
    apiKeyId: string;
  }
}

const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message);

/** `Authorization: Bearer <key>`; the key's account scopes everything the request can see. */
export function requireApiKey(db: Db): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    // RFC 6750: the scheme, spaces, one token, nothing after it.
    const key = /^bearer +(\S+)$/i.exec(header)?.[1];
    if (!key) {
      return next(unauthorized('Send your API key as "Authorization: Bearer <key>"'));
    }
    const parsed = parseApiKey(key);
    if (!parsed) return next(unauthorized('The API key is not valid'));
    const [row] = await db
      .select({ key: apiKeys, account: accounts })
      .from(apiKeys)
      .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
      .where(eq(apiKeys.prefix, parsed.prefix))
      .limit(1);
    if (!row || !secretMatches(parsed.secret, row.key.secretHash)) {
      return next(unauthorized('The API key is not valid'));
    }
    if (row.key.revokedAt) return next(unauthorized('The API key has been revoked'));
    res.locals.account = row.account;
    res.locals.apiKeyId = row.key.id;
    req.log = req.log?.child({ accountId: row.account.id });
    next();
  };
}
