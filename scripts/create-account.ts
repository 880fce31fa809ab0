import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config.js';
import { createAccount } from '../db/accounts.js';
import { openDatabase } from '../db/client.js';

/** `npm run account:create -- --name "Acme" [--sender-name "Ada"] [--sender-email ada@acme.test] [--postal-address "1 Main St, Springfield"]` */
const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    'sender-name': { type: 'string' },
    'sender-email': { type: 'string' },
    timezone: { type: 'string' },
    'postal-address': { type: 'string' },
  },
});
if (!values.name) {
  process.stderr.write(
    'Usage: npm run account:create -- --name "Account name" [--sender-name ..] [--sender-email ..] [--postal-address ..]\n',
  );
  process.exit(64);
}
const config = loadConfigOrExit();
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
await database.migrate();
const { account, apiKey } = await createAccount(database.db, {
  name: values.name,
  timezone: values.timezone ?? 'UTC',
  // Needed before the account may enrol (CAN-SPAM); PATCH /v1/account sets it later too.
  postalAddress: values['postal-address'] ?? '',
  sender: { name: values['sender-name'] ?? values.name, email: values['sender-email'] ?? null },
});
await database.close();
process.stdout.write(`account ${account.id}\napi key ${apiKey}\n(the key is shown once; only its hash is stored)\n`);
