import { composeService } from './composition.js';
import { loadConfigOrExit } from './config.js';

/** Production API process: `node dist/server.js` (docker-compose service `api`). SIGTERM drains it. */
const config = loadConfigOrExit();
const service = await composeService(config, { api: true });
await service.listen();
service.logger.info({ port: config.PORT }, 'API listening');

await service.untilStopped();
service.logger.info('shutting down: draining requests');
await service.close();
process.exit(0);
