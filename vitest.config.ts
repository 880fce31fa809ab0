import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest, longest first (figures in issue 15's closing note): one fork
 * starts on the bulk enrolment of 10,000 (about half of the run on its own) while the other works
 * through the rest, so the run lasts about as long as that file instead of the sum of all. The
 * other files follow in the order vitest keeps from the last run (longest first).
 */
const LONGEST_FIRST = [
  'test/bulk-enrolment.test.ts',
  'test/chaos/api-killed.test.ts',
  'test/api-fuzz.test.ts',
  'test/chaos/temporal-restarted.test.ts',
  'test/crash-safety.test.ts',
  'test/chaos/worker-killed.test.ts',
  'test/chaos/database-unreachable.test.ts',
  'test/chaos/provider-faults.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted
      .map((spec, i) => ({ spec, i }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i)
      .map(({ spec }) => spec);
  }
}

export default defineConfig({
  test: {
    // `npm run histories:record` adds the recorder of replay histories.
    include: ['test/**/*.test.ts', ...(process.env.RECORD_HISTORIES ? ['test/histories/record.ts'] : [])],
    // The Temporal native bridge does not work in worker threads.
    pool: 'forks',
    // Two files at a time, whatever the core count (vitest's default on 2 cores is one): much of a
    // file's time is spent waiting (outages, timeouts, child processes starting), and two keep
    // within PostgreSQL's 100 connections (the bulk file's pool is 40, a chaos file with its
    // child processes up to 60). Each file has its own database, task queue and Resend sink.
    // `--maxWorkers=1` runs them one by one.
    maxWorkers: 2,
    minWorkers: 1,
    sequence: { sequencer: LongestFirst },
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/helpers/orphan-guard.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
