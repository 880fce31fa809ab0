import { loadConfigOrExit } from '../config.js';
import { revokeApiKey } from '../db/accounts.js';
import { openDatabase } from '../db/client.js';
import { parseApiKey } from '../domain/api-key.js';

/** `npm run account:revoke-key -- <key or prefix>` */
const arg = process.argv[2];
if (!arg) {
  process.stderr.write('Usage: npm run account:revoke-key -- <api key or its prefix>\n');
  process.exit(64);
}
const prefix = parseApiKey(arg)?.prefix ?? arg;
const config = loadConfigOrExit();
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
const revoked = await revokeApiKey(database.db, prefix);
await database.close();
process.stdout.write(revoked ? `revoked key ${prefix}\n` : `no active key with prefix ${prefix}\n`);
process.exit(revoked ? 0 : 1);
