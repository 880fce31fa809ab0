import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // `npm run histories:record` adds the recorder of replay histories.
    include: ['test/**/*.test.ts', ...(process.env.RECORD_HISTORIES ? ['test/histories/record.ts'] : [])],
    // The Temporal native bridge does not work in worker threads.
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
