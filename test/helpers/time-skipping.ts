import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributes } from '../../workflows/search-attributes.js';
import { temporalTestServerPath } from '../../temporal/binaries.js';
import { startService, testConfig, type TestService } from './service.js';

/**
 * The service on Temporal's time-skipping test server: days pass in milliseconds whenever the
 * test waits on a workflow or calls `skip`. One environment per test file; its tests run
 * serially because skipped time is global to the environment.
 */
export async function startTimeSkippingService(): Promise<{ env: TestWorkflowEnvironment; service: TestService; stop(): Promise<void> }> {
  const path = temporalTestServerPath();
  if (!path) throw new Error('temporal-test-server not found: run `npm run setup` or set TEMPORAL_TEST_SERVER_PATH');
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      searchAttributes.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  const service = await startService({
    config: await testConfig(),
    temporal: { client: env.client, nativeConnection: env.nativeConnection },
  });
  return {
    env,
    service,
    async stop() {
      await service.stop();
      await env.teardown();
    },
  };
}
