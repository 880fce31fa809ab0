import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { CostPerStep } from './scenarios/cost-per-step.js';
import type { LatencyResult } from './scenarios/api-latency.js';
import type { NoisyNeighbourResult } from './scenarios/noisy-neighbour.js';
import type { FootprintPoint } from './scenarios/footprint.js';
import type { Lateness } from './scenarios/punctuality.js';
import type { ThroughputRun, WorkerCpu } from './scenarios/throughput.js';

interface ThroughputSummary {
  servicePerSecond: number;
  rawPerSecond: number;
  ratio: number;
  runs: { service: number; raw: number; seconds?: number }[];
  typical: { service: ThroughputRun; raw: ThroughputRun };
  /** Enrolment only, in runs before 2026-12-07: raw starts carrying the service's search attributes, summary and details. */
  rawWithAttributes?: { perSecond: number; runs: number[] };
  /** Enrolment only: raw starts carrying all the service's start options (those, its input and its id reuse policy). */
  rawAsTheServiceStarts?: { perSecond: number; runs: number[] };
  /** Enrolment only: first workflow tasks run when the last start was accepted, each run. */
  firstTasksRun?: { service: number; raw: number }[];
}

export interface BenchResults {
  mode: 'quick' | 'full';
  /** How it was run, to reproduce it. */
  command?: string;
  /** Set when `--only` ran some scenarios: results go to bench/results/partial/. */
  partial?: boolean;
  startedAt: string;
  /** The commit measured (`git rev-parse --short HEAD`), so runs assembled into one report can be told apart. */
  commit?: string;
  durationSeconds?: number;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  runs: number;
  enrolment?: ThroughputSummary;
  send?: ThroughputSummary;
  /** The send scenario with the worker in its own process, for its CPU per email. */
  workerCpu?: WorkerCpu;
  punctuality?: { service: Lateness; raw: Lateness };
  /** Fewer due a second than the engine sends (issue 19: 1,000 within a minute). */
  punctualityWithinCapacity?: { service: Lateness; raw: Lateness };
  footprint?: FootprintPoint[];
  latency?: LatencyResult[];
  cost?: CostPerStep;
  noisyNeighbour?: NoisyNeighbourResult;
  /**
   * The headline figure of each run behind a median (worker CPU, latency p99s, punctuality), by
   * row. Results from before every floor was repeated have none.
   */
  eachRun?: Partial<Record<(typeof SCENARIO_KEYS)[number], Record<string, number[]>>>;
  /** Scenarios taken from a separate `--only` run, with when that run started (and its commit). */
  borrowed?: Record<string, string>;
}

const SCENARIO_KEYS = [
  'enrolment',
  'send',
  'workerCpu',
  'punctuality',
  'punctualityWithinCapacity',
  'footprint',
  'latency',
  'cost',
  'noisyNeighbour',
] as const;

export function borrowPartialResults(results: BenchResults, folder = 'partial'): void {
  const file = path.join(resultsDir(folder), 'results.json');
  if (!existsSync(file)) return;
  const partial = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  if (partial.mode !== results.mode) return; // quick figures never complete a full report
  // A `--only` run made after this report re-measures its scenarios (the code may have changed
  // since): its figures replace the report's. An older one only fills what the report lacks.
  const newer = Date.parse(partial.startedAt) > Date.parse(results.startedAt);
  for (const key of SCENARIO_KEYS) {
    if (partial[key] === undefined || (results[key] !== undefined && !newer)) continue;
    (results as unknown as Record<string, unknown>)[key] = partial[key];
    const runs = partial.eachRun?.[key];
    const { [key]: _replaced, ...others } = results.eachRun ?? {};
    results.eachRun = runs ? { ...others, [key]: runs } : others;
    results.borrowed = { ...results.borrowed, [key]: partial.commit ? `${partial.startedAt} at ${partial.commit}` : partial.startedAt };
  }
}

const resultsDir = (mode: string) => path.join(path.dirname(fileURLToPath(import.meta.url)), 'results', mode);
const met = (ok: boolean) => (ok ? 'yes' : '**no**');

/** results.json (everything), results.md (the table) and two SVG charts, in bench/results/<mode>/. */
/** The results a full run wrote, to render again (after a `--only` run it can borrow). */
export function readResults(mode: 'quick' | 'full'): BenchResults {
  return JSON.parse(readFileSync(path.join(resultsDir(mode), 'results.json'), 'utf8')) as BenchResults;
}

export async function writeReport(results: BenchResults): Promise<string[]> {
  const folder = results.partial ? 'partial' : results.mode;
  const dir = resultsDir(folder);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, content: string) => {
    writeFileSync(path.join(dir, name), content);
    files.push(path.join('bench', 'results', folder, name));
  };
  const forJson = structuredClone(results);
  for (const scenario of [forJson.punctuality, forJson.punctualityWithinCapacity]) {
    if (scenario) for (const side of ['service', 'raw'] as const) scenario[side].samples = [];
  }
  write('results.json', JSON.stringify(forJson, null, 2) + '\n');
  write('results.md', markdown(results));
  // Re-rendered reports (`--rerender`) have no samples left: keep the chart already written.
  if (results.punctuality?.service.samples.length) write('lateness.svg', await svg(latenessChart(results.punctuality)));
  if (results.send) write('throughput.svg', await svg(throughputChart(results.send)));
  return files;
}

function markdown(r: BenchResults): string {
  const lines = [
    `# Benchmark results (${r.mode} mode)`,
    '',
    `Run ${r.startedAt}${r.commit ? ` at ${r.commit}` : ''} on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; ` +
      `Temporal dev server (SQLite) and PostgreSQL 15 on the same machine. Figures with a floor are medians of ${r.runs} run(s) (footprint, cost and the noisy neighbour: one run); ` +
      `each side of each run on a fresh dev server and database. Reproduce: \`${r.command ?? `npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}`}\`` +
      (r.durationSeconds ? ` (${Math.round(r.durationSeconds / 60)} min).` : '.'),
    '',
    ...(r.borrowed
      ? [
          `From a separate run of the same harness (\`--only\`, same machine): ${Object.entries(r.borrowed)
            .map(([k, at]) => `${k} (${at})`)
            .join(', ')}.`,
          '',
        ]
      : []),
    '| Measure | Service | Raw baseline | Service / raw | Floor | Met |',
    '|---|---|---|---|---|---|',
  ];
  if (r.enrolment) {
    const e = r.enrolment;
    lines.push(
      `| Enrolment throughput, ${e.typical.service.count} leads (workflows started/s) | ${e.servicePerSecond} | ${e.rawPerSecond} | ${e.ratio} | ≥ 0.9 × raw | ${met(e.ratio >= 0.9)} |`,
    );
    if (e.rawAsTheServiceStarts) {
      const w = e.rawAsTheServiceStarts.perSecond;
      lines.push(
        `| Enrolment throughput against raw starts that carry all the service's start options (search attributes, summary and details, input, id reuse policy): the service's own overhead | ${e.servicePerSecond} | ${w} | ${(e.servicePerSecond / w).toFixed(3)} | | |`,
      );
    } else if (e.rawWithAttributes) {
      const w = e.rawWithAttributes.perSecond;
      lines.push(
        `| Enrolment throughput against raw starts that carry the service's search attributes, summary and details (what the Temporal UI story costs the server) | ${e.servicePerSecond} | ${w} | ${(e.servicePerSecond / w).toFixed(3)} | | |`,
      );
    }
  }
  if (r.send) {
    const s = r.send;
    lines.push(
      `| Send throughput, ${s.typical.service.count} emails (emails/s) | ${s.servicePerSecond} | ${s.rawPerSecond} | ${s.ratio} | ≥ 0.8 × raw | ${met(s.ratio >= 0.8)} |`,
    );
    const cpu = s.typical.service.cpuMsPerItem;
    lines.push(
      cpu !== undefined
        ? `| CPU per sent email, ms (the bench process: worker, API and sink together, so an upper bound on the worker's; the floor is the worker's row) | ${cpu} | | | | |`
        : `| CPU per sent email, ms | not measured in this run | | | | |`,
    );
  }
  if (r.workerCpu) {
    const w = r.workerCpu;
    lines.push(
      `| Worker CPU per sent email, ms (worker.ts in its own process, ${w.count} emails at ${w.perSecond}/s, from /proc) | ${w.cpuMsPerEmail} | | | ≤ 25 ms | ${met(w.cpuMsPerEmail <= 25)} |`,
    );
  }
  if (r.punctuality) {
    const { service: s, raw } = r.punctuality;
    const label = `Punctuality, ${s.count} due within ${Math.round(s.dueSpreadSeconds)} s (raw: ${Math.round(raw.dueSpreadSeconds)} s)`;
    lines.push(`| ${label}: p50 lateness (s) | ${s.p50} | ${raw.p50} | | | |`);
    // Over capacity every engine is late; the floor is how much later than the raw engine.
    const ratio = raw.p99 > 0 ? Number((s.p99 / raw.p99).toFixed(2)) : '';
    lines.push(`| ${label}: p99 lateness (s) | ${s.p99} | ${raw.p99} | ${ratio} | ≤ 1.25 × raw | ${met(ratio !== '' && ratio <= 1.25)} |`);
    lines.push(`| ${label}: max lateness (s) | ${s.max} | ${raw.max} | | | |`);
  }
  if (r.punctualityWithinCapacity) {
    const { service: s, raw } = r.punctualityWithinCapacity;
    const label = `Punctuality within capacity, ${s.count} due within ${Math.round(s.dueSpreadSeconds)} s`;
    lines.push(`| ${label}: p50 lateness (s) | ${s.p50} | ${raw.p50} | | | |`);
    lines.push(`| ${label}: p99 lateness (s) | ${s.p99} | ${raw.p99} | | < 2 s | ${met(s.p99 < 2)} |`);
  }
  if (r.footprint) {
    const first = r.footprint[0]!;
    for (const p of r.footprint) {
      lines.push(
        `| Worker resident memory, ${p.sleepingEnrolments} enrolments sleeping (MiB) | ${p.workerRssMiB} | | | flat (bounded cache) | ${met(p.workerRssMiB <= first.workerRssMiB * 1.25)} |`,
      );
      lines.push(
        `| API resident memory, ${p.sleepingEnrolments} enrolments sleeping (MiB) | ${p.apiRssMiB} | | | flat | ${met(p.apiRssMiB <= first.apiRssMiB * 1.25)} |`,
      );
    }
  }
  if (r.latency) {
    const baseline = r.latency.find((l) => l.operation.startsWith('baseline'));
    const clean = (l: { non2xx: number; errors: number }) => l.non2xx === 0 && l.errors === 0;
    for (const l of r.latency.filter((x) => x !== baseline)) {
      // Results from before reads and writes were told apart carry no `read` flag.
      const read = l.read ?? /^(list|get)/.test(l.operation);
      // Results from before the write floors (issue 19) carry none for pause and resume.
      const floor = l.floorMs ?? (read ? 50 : /^(pause|resume)/.test(l.operation) ? 250 : undefined);
      const verdict =
        floor !== undefined ? met(l.p99 < floor && clean(l)) : clean(l) ? 'all 2xx' : `**${l.non2xx} non-2xx, ${l.errors} errors**`;
      const healthz = (b?: { p50: number; p99: number }) => (b ? `${b.p50} / ${b.p99} (/healthz)` : '');
      lines.push(
        `| API ${l.operation}, ${l.rate ?? l.requestsPerSecond} req/s evenly paced: p50 / p99 (ms) | ${l.p50} / ${l.p99} | ${healthz(baseline)} | | ${floor !== undefined ? `< ${floor} ms` : ''} | ${verdict} |`,
      );
      if (l.burst) {
        lines.push(
          `| API ${l.operation}, ${l.rate} req/s in per-second bursts (autocannon, 10 connections): p50 / p99 (ms) | ${l.burst.p50} / ${l.burst.p99} | ${healthz(baseline?.burst)} | | | |`,
        );
      }
    }
  }
  if (r.noisyNeighbour) {
    const n = r.noisyNeighbour;
    const clean = n.underLoad.non2xx === 0 && n.underLoad.errors === 0;
    lines.push(
      `| Another tenant's GET of a sequence, ${n.victimRate} req/s evenly paced, while one tenant sends the worst template the API accepts at its rate limit (${n.heavy.ratePerSecond} req/s: ${n.heavy.template}; answered ${Object.entries(
        n.heavy.answers,
      )
        .map(([status, count]) => `${count} × ${status}`)
        .join(
          ', ',
        )}): p50 / p99 (ms) | ${n.underLoad.p50} / ${n.underLoad.p99} | ${n.alone.p50} / ${n.alone.p99} (the same GET alone) | | p99 < 100 ms | ${met(n.underLoad.p99 < 100 && clean)} |`,
    );
  }
  if (r.cost) {
    const c = r.cost;
    lines.push(
      `| Temporal history events per sent step (${c.enrolments} × 3-step enrolments) | ${c.historyEventsPerStep} | ${c.rawHistoryEventsPerActivity} per one-activity workflow | ${(c.historyEventsPerStep / c.rawHistoryEventsPerActivity).toFixed(2)} | | |`,
    );
    lines.push(`| PostgreSQL rows written per sent step | ${c.rowsWrittenPerStep} | | | | |`);
    lines.push(
      `| PostgreSQL statements (round trips) per sent step, counted (3-step enrolments, the API's enrolment and completion included) | ${c.statementsPerStep} | | | | |`,
    );
    if (c.oneStep) {
      lines.push(
        `| PostgreSQL statements (round trips) per sent one-step email in the worker, counted (${c.oneStep.emails} emails: from the first plan to the completion; the API's enrolment ${c.oneStep.apiStatementsPerEnrolment} apart) | ${c.oneStep.workerStatementsPerEmail} | | | ≤ 6 | ${met(c.oneStep.workerStatementsPerEmail <= 6)} |`,
      );
    }
  }
  if (r.cost) {
    lines.push('', 'Rows written per sent step, by table (inserts + updates + deletes, enrolment included):', '');
    lines.push('| Table | Rows per step |', '|---|---|', ...Object.entries(r.cost.rowsByTable).map(([t, n]) => `| ${t} | ${n} |`));
    if (r.cost.oneStep) {
      lines.push('', 'Worker statements per sent one-step email, by activity:', '');
      lines.push(
        '| Activity | Statements per email |',
        '|---|---|',
        ...Object.entries(r.cost.oneStep.byActivity).map(([a, n]) => `| ${a} | ${n} |`),
      );
    }
  }
  for (const [name, s] of [
    ['Enrolment throughput', r.enrolment],
    ['Send throughput', r.send],
  ] as const) {
    if (s) lines.push('', `${name}, each run (per second, service / raw): ${s.runs.map((x) => `${x.service} / ${x.raw}`).join('; ')}`);
    if (s?.rawAsTheServiceStarts)
      lines.push(
        '',
        `${name}, raw starts with all the service's start options, each run (per second): ${s.rawAsTheServiceStarts.runs.join('; ')}`,
      );
    else if (s?.rawWithAttributes)
      lines.push('', `${name}, raw starts with the service's attributes, each run (per second): ${s.rawWithAttributes.runs.join('; ')}`);
    if (s?.firstTasksRun)
      lines.push(
        '',
        `${name}, first workflow tasks run when the last start was accepted, each run (service / raw, of ${s.typical.service.count}): ${s.firstTasksRun.map((x) => `${x.service} / ${x.raw}`).join('; ')}`,
      );
  }
  for (const rows of Object.values(r.eachRun ?? {})) {
    for (const [row, figures] of Object.entries(rows)) lines.push('', `${row}, each run: ${figures.join('; ')}`);
  }
  lines.push(
    '',
    'Charts: [lateness.svg](lateness.svg) (lateness distribution), [throughput.svg](throughput.svg) (emails per second over time, the median run).',
    '',
  );
  return lines.join('\n');
}

function latenessChart(p: { service: Lateness; raw: Lateness }): TopLevelSpec {
  const values = [
    ...p.service.samples.map((lateness) => ({ side: 'service', lateness })),
    ...p.raw.samples.map((lateness) => ({ side: 'raw baseline', lateness })),
  ];
  return {
    title: `Lateness of ${p.service.count} steps falling due within a minute`,
    width: 600,
    height: 300,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'lateness', type: 'quantitative', bin: { maxbins: 60 }, title: 'received by the provider − due time (s)' },
      y: { aggregate: 'count', type: 'quantitative', title: 'emails', stack: null },
      color: { field: 'side', type: 'nominal' },
      opacity: { value: 0.7 },
    },
  };
}

function throughputChart(s: ThroughputSummary): TopLevelSpec {
  const values = [
    ...(s.typical.service.series ?? []).map((x) => ({ ...x, side: 'service (emails at the sink)' })),
    ...(s.typical.raw.series ?? []).map((x) => ({ ...x, side: 'raw baseline (no-op activities)' })),
  ];
  return {
    title: `Throughput over time, ${s.typical.service.count} one-step enrolments`,
    width: 600,
    height: 300,
    data: { values },
    mark: 'line',
    encoding: {
      x: { field: 'second', type: 'quantitative', title: 'seconds since the bulk enrolment' },
      y: { field: 'count', type: 'quantitative', title: 'per second' },
      color: { field: 'side', type: 'nominal' },
    },
  };
}

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
