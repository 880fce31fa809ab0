import { loadConfigOrExit } from '../config.js';
import { openDatabase } from './client.js';

/** `npm run db:migrate`: apply pending migrations to DATABASE_URL (or the embedded database). */
const config = loadConfigOrExit();
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
await database.migrate();
await database.close();
console.log(`Migrations applied (${database.driver}).`);
