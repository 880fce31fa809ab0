import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { borrowPartialResults, readResults, writeReport, type BenchResults } from './report.js';
import { costPerStep } from './scenarios/cost-per-step.js';
import { apiLatencyUnderLoad } from './scenarios/api-latency.js';
import { footprint } from './scenarios/footprint.js';
import { noisyNeighbour } from './scenarios/noisy-neighbour.js';
import { punctuality } from './scenarios/punctuality.js';
import { enrolmentThroughput, sendThroughput, workerCpuPerEmail, type ThroughputRun } from './scenarios/throughput.js';
import { median, medianOfRuns } from './stats.js';

/**
 * `npm run bench` — the service against the raw speed of the same Temporal server and
 * PostgreSQL, measured in the same run. `--quick` is the harness's own check for CI (small sizes,
 * one run each, under two minutes); the full mode gives the figures. `--runs N` repeats every
 * measurement that has a floor (medians are reported); `--only a,b` runs some scenarios (results in
 * bench/results/partial/); `--skip a,b` leaves some out; `--with-partial` fills what this run skipped from those;
 * `--rerender` writes the report again from results.json (and borrows a partial run). `--borrow a,b`
 * names the folders of bench/results to borrow from instead of partial/ (a later one's scenario
 * replaces an earlier one's): a full report assembled from `--only` runs kept in folders of their
 * own (a full run outlasts a working session).
 */
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    skip: { type: 'string' },
    'with-partial': { type: 'boolean', default: false },
    borrow: { type: 'string' },
    rerender: { type: 'boolean', default: false },
  },
});
const quick = values.quick!;
const borrowFrom = values.borrow?.split(',') ?? ['partial'];
const borrow = (into: BenchResults) => borrowFrom.forEach((folder) => borrowPartialResults(into, folder));
if (values.rerender) {
  // Write the report again from results.json, borrowing `--only` runs finished since.
  const saved = readResults(quick ? 'quick' : 'full');
  borrow(saved);
  console.log((await writeReport(saved)).join(', '));
  process.exit(0);
}
const sizes = quick
  ? {
      runs: 1,
      enrol: 200,
      send: 100,
      due: 100,
      dueDelayMinutes: 1,
      rawDueSpreadSeconds: 10,
      dueWithinCapacity: { count: 50, delayMinutes: 1, overSeconds: 10 },
      footprint: [100, 400],
      latencyEnrolments: 200,
      latency: { rate: 20, writeRate: 10, seconds: 2 },
      cost: 10,
      noisy: { seconds: 3, victimRate: 8 },
    }
  : {
      runs: 3,
      enrol: 10_000,
      send: 2_000,
      due: 10_000,
      dueDelayMinutes: 7,
      rawDueSpreadSeconds: 60,
      dueWithinCapacity: { count: 1_000, delayMinutes: 2, overSeconds: 60 },
      footprint: [10_000, 100_000],
      latencyEnrolments: 10_000,
      latency: { rate: 100, writeRate: 25, seconds: 20 },
      cost: 200,
      noisy: { seconds: 30, victimRate: 8 },
    };
const runs = values.runs ? Number(values.runs) : sizes.runs;
// An odd count: a median is then one run's figure, and the punctuality run it picks is a real run.
if (!Number.isInteger(runs) || runs < 1 || runs % 2 === 0) {
  process.stderr.write(`--runs must be an odd whole number (1, 3, 5…), not ${values.runs}\n`);
  process.exit(2);
}
const only = values.only?.split(',');
const skip = values.skip?.split(',') ?? [];
const wanted = (name: string) => (!only || only.includes(name)) && !skip.includes(name);
const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

const results: BenchResults = {
  mode: quick ? 'quick' : 'full',
  partial: Boolean(only),
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  startedAt: new Date().toISOString(),
  commit: measuredCommit(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  runs,
};
const began = Date.now();
// A client closed with an environment can still fire a retry timer; that must not cost the run.
process.on('uncaughtException', (error) => {
  if (/Channel has been shut down/.test(error.message)) return console.error(`[bench] ignored after a scenario: ${error.message}`);
  console.error(error);
  process.exit(1);
});
/** Written after every scenario, so a failure later keeps what was measured. */
const save = async () => {
  results.durationSeconds = Math.round((Date.now() - began) / 1000);
  await writeReport(results);
};

async function throughputScenarios() {
  if (wanted('enrolment')) {
    const all = await repeated(`enrolment throughput, ${sizes.enrol} leads`, () => enrolmentThroughput(sizes.enrol));
    results.enrolment = {
      ...summariseRuns(all),
      rawAsTheServiceStarts: {
        perSecond: median(all.map((r) => r.rawAsTheServiceStarts.perSecond)),
        runs: all.map((r) => r.rawAsTheServiceStarts.perSecond),
      },
      firstTasksRun: all.map((r) => ({ service: r.service.firstTasksRun ?? 0, raw: r.raw.firstTasksRun ?? 0 })),
    };
    await save();
  }
  if (wanted('send')) {
    const all = await repeated(`send throughput, ${sizes.send} emails`, () => sendThroughput(sizes.send));
    results.send = summariseRuns(all);
    await save();
    const cpu = await repeated(`worker CPU per email, ${sizes.send} emails, worker.ts in its own process`, () =>
      workerCpuPerEmail(sizes.send),
    );
    results.workerCpu = medianOfRuns(cpu);
    results.eachRun = { ...results.eachRun, workerCpu: { 'worker CPU per sent email (ms)': cpu.map((c) => c.cpuMsPerEmail) } };
    await save();
  }
  if (wanted('cost')) {
    log(`cost per step, ${sizes.cost} enrolments of three steps`);
    results.cost = await costPerStep(sizes.cost);
    await save();
  }
  if (wanted('latency')) {
    const all = await repeated(
      `API latency with ${sizes.latencyEnrolments} enrolments: reads at ${sizes.latency.rate}/s, writes at ${sizes.latency.writeRate}/s, ${sizes.latency.seconds} s per operation`,
      () => apiLatencyUnderLoad(sizes.latencyEnrolments, sizes.latency),
    );
    results.latency = medianOfRuns(all);
    const floored = all[0]!.filter((l) => l.floorMs || (l.read && !l.operation.startsWith('baseline'))).map((l) => l.operation);
    const p99s = (operation: string) => all.map((run) => run.find((l) => l.operation === operation)?.p99 ?? NaN);
    results.eachRun = { ...results.eachRun, latency: Object.fromEntries(floored.map((o) => [`API ${o}: p99 (ms)`, p99s(o)])) };
    await save();
  }
  if (wanted('noisy')) {
    log(
      `noisy neighbour: another tenant's reads at ${sizes.noisy.victimRate}/s while one tenant renders the worst accepted template at its rate limit, ${sizes.noisy.seconds} s`,
    );
    results.noisyNeighbour = await noisyNeighbour(sizes.noisy);
    await save();
  }
  if (wanted('footprint')) {
    log(`footprint at ${sizes.footprint.join(' and ')} sleeping enrolments`);
    results.footprint = await footprint(sizes.footprint);
    await save();
  }
}

async function punctualityScenario() {
  if (!wanted('punctuality')) return;
  const all = await repeated(`punctuality, ${sizes.due} enrolments due within about a minute`, () =>
    punctuality(sizes.due, sizes.dueDelayMinutes, sizes.rawDueSpreadSeconds),
  );
  // Over capacity the floor is a ratio of two noisy figures: the report gives the whole run whose
  // ratio is the median (not a ratio of medians from different runs), and its chart.
  const ratio = (r: (typeof all)[number]) => r.service.p99 / r.raw.p99;
  const byRatio = [...all].sort((a, b) => ratio(a) - ratio(b));
  results.punctuality = byRatio[Math.ceil(byRatio.length / 2) - 1]!; // the middle run (runs is odd)
  results.eachRun = { ...results.eachRun, punctuality: { 'punctuality p99, service / raw': all.map((r) => Number(ratio(r).toFixed(2))) } };
  await save();
}

async function punctualityWithinCapacityScenario() {
  if (!wanted('punctualityWithinCapacity')) return;
  const { count, delayMinutes, overSeconds } = sizes.dueWithinCapacity;
  const all = await repeated(`punctuality within capacity, ${count} enrolments due within ${overSeconds} s`, () =>
    punctuality(count, delayMinutes, overSeconds, { enrolOverSeconds: overSeconds }),
  );
  results.punctualityWithinCapacity = medianOfRuns(all);
  results.eachRun = {
    ...results.eachRun,
    punctualityWithinCapacity: { 'punctuality within capacity, service p99 (s)': all.map((r) => r.service.p99) },
  };
  await save();
}

// Quick mode checks the harness, not the timings: the punctuality scenario (which must wait a
// whole minute for its step to fall due) runs beside the others to stay under two minutes.
if (quick) await Promise.all([throughputScenarios(), punctualityScenario().then(punctualityWithinCapacityScenario)]);
else {
  await throughputScenarios();
  await punctualityScenario();
  await punctualityWithinCapacityScenario();
}
results.durationSeconds = Math.round((Date.now() - began) / 1000);
// A long scenario measured on its own (`--only footprint`) can complete a full report.
if (values['with-partial'] || values.borrow) borrow(results);
const written = await writeReport(results);
log(`done in ${results.durationSeconds} s: ${written.join(', ')}`);
process.exit(0);

/** A measurement with a floor, `runs` times: one run is one sample of a noisy machine. */
async function repeated<T>(what: string, measure: () => Promise<T>): Promise<T[]> {
  const all: T[] = [];
  for (let i = 0; i < runs; i++) {
    log(`${what}, run ${i + 1}/${runs}`);
    all.push(await measure());
  }
  return all;
}

function summariseRuns(all: { service: ThroughputRun; raw: ThroughputRun }[]) {
  const service = median(all.map((r) => r.service.perSecond));
  const raw = median(all.map((r) => r.raw.perSecond));
  // The chart shows the run whose service rate is the median.
  const typical = all.find((r) => r.service.perSecond === service)!;
  return {
    servicePerSecond: service,
    rawPerSecond: raw,
    ratio: Number((service / raw).toFixed(3)),
    runs: all.map((r) => ({ service: r.service.perSecond, raw: r.raw.perSecond, seconds: r.service.seconds })),
    typical,
  };
}

/** The commit under measurement, with `+changes` when the tree differs from it; none outside git. */
function measuredCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? '+changes' : '');
  } catch {
    return undefined;
  }
}
