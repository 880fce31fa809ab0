import { median } from '../stats.js';
import { startBenchEnvironment } from '../environment.js';
import { productionProcesses } from '../processes.js';
import { createSequence, enrolAll, importLeads, untilAsleep } from './common.js';

export interface FootprintPoint {
  sleepingEnrolments: number;
  workerRssMiB: number;
  apiRssMiB: number;
}

/**
 * Footprint: the worker and the API as separate production processes; enrol leads into a
 * sequence whose step is days away until `sizes` enrolments sleep, and read each process's
 * resident memory at each size (median of ten reads after the last workflow task settles).
 * Long at 100,000 (every workflow's first task must run), so it is meant to run on its own:
 * `nice -n 19 npm run bench -- --only footprint`, and the full report borrows it.
 */
export async function footprint(sizes: number[]): Promise<FootprintPoint[]> {
  const env = await startBenchEnvironment({ temporalOnDisk: true });
  const processes = await productionProcesses(env, ['worker.ts', 'server.ts']);
  // A line a minute on the way: a run cut short still shows how memory moved as enrolments grew.
  const progress = setInterval(() => {
    void env.sql`select count(*)::int as enrolled, count(next_due_at)::int as asleep from enrolments`
      .then(([row]) => {
        const rss = { workerRssMiB: processes.child('worker.ts').rssMiB(), apiRssMiB: processes.child('server.ts').rssMiB() };
        console.log(`[bench ${new Date().toISOString().slice(11, 19)}] footprint on the way ${JSON.stringify({ ...row, ...rss })}`);
      })
      .catch(() => {});
  }, 60_000);
  try {
    const sequenceId = await createSequence(processes.api, [{ delayMinutes: 3 * 24 * 60 }]);
    const points: FootprintPoint[] = [];
    let enrolled = 0;
    for (const size of sizes) {
      const leadIds = await importLeads(processes.api, size - enrolled, `sleep-${enrolled}`);
      // Smaller requests than the API allows: a niced run must not outlast fetch's five-minute wait.
      await enrolAll(processes.api, sequenceId, leadIds, 2_000);
      enrolled = size;
      await untilAsleep(env.sql, size);
      await new Promise((r) => setTimeout(r, 10_000));
      const samples = { worker: [] as number[], api: [] as number[] };
      for (let i = 0; i < 10; i++) {
        samples.worker.push(processes.child('worker.ts').rssMiB());
        samples.api.push(processes.child('server.ts').rssMiB());
        await new Promise((r) => setTimeout(r, 500));
      }
      points.push({ sleepingEnrolments: size, workerRssMiB: median(samples.worker), apiRssMiB: median(samples.api) });
      console.log(`[bench] footprint ${JSON.stringify(points.at(-1))}`);
    }
    return points;
  } catch (error) {
    console.error(`worker output:\n${processes.child('worker.ts').output()}\nAPI output:\n${processes.child('server.ts').output()}`);
    throw error;
  } finally {
    clearInterval(progress);
    await processes.stop();
    await env.close();
  }
}
