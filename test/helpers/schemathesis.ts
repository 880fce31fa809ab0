import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Runs the schemathesis CLI (installed into .fuzz-venv by scripts/setup-fuzz.mjs) against the
 * service's /openapi.json. Path parameters can be drawn from real ids (`pathIds`), so generated
 * requests reach existing resources and not only 404s.
 */
export const SCHEMATHESIS = process.env.SCHEMATHESIS_PATH ?? path.resolve('.fuzz-venv/bin/schemathesis');

/** Strategies for the document's custom formats (iana-time-zone, page-cursor). */
const HOOKS = path.resolve('test/helpers/schemathesis_hooks.py');

export interface FuzzOptions {
  baseUrl: string;
  apiKey: string;
  mode: 'positive' | 'negative' | 'all';
  checks: string[];
  maxExamples: number;
  phases?: string[];
  seed?: number;
  /** Per path regex: path parameter name → real values, drawn with the given probability. */
  pathIds?: { pathRegex: string; params: Record<string, string[]>; probability: number }[];
  excludePathRegex?: string;
  timeoutMs?: number;
}

export interface FuzzResult {
  exitCode: number | null;
  output: string;
  /** Test cases schemathesis generated and sent, from its NDJSON event stream. */
  cases: number;
  /** Operations in the JUnit report, and those that failed with the first line of why. */
  operations: number;
  failures: { operation: string; message: string }[];
  /** Requests that changed state or could have (not GET/HEAD/OPTIONS) and were answered 2xx. */
  accepted: { method: string; url: string; status: number; generatedAs: string }[];
}

const tomlString = (s: string) => JSON.stringify(s);

/**
 * What every run holds the API to beyond the defaults of `--checks all`, and the few answers a
 * schema cannot predict, each with why. Nothing here lets a 5xx or a shape error through.
 */
const POLICY = `
[generation]
# The server refuses NUL in any JSON string, key or value (PostgreSQL cannot store it:
# rejectUnstorableText in api/validate.ts, stated in the document's description, tested by
# test/bad-input.test.ts). No JSON Schema keyword says it of extra properties, so valid
# requests hold none; invalid ones are still generated from every keyword of the document.
allow-x00 = false

[checks.positive_data_acceptance]
# 422 is the API's answer to a well-formed request that the stored state refuses: a lead without
# an email, an Idempotency-Key used for another request, a step list that is not the sequence's,
# a template naming a field the lead lacks, a webhook host that does not resolve. No schema can
# state these; each is a documented 422 with its code. A 400 (the request's shape) still fails.
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

[phases.stateful]
max-steps = 8

[phases.stateful.inference]
# Only the document's own links (api/openapi.ts): inferred ones fed ids of other resources, or
# null, into path parameters.
algorithms = []

[[operations]]
include-path-regex = "^/(u|confirm-sender)/"
# A link token's signature is the server's secret: a well-formed token with a wrong signature is
# the documented 400 page ("This link is not valid"), an expired one the documented 410.
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "410", "429"]

`;

function configToml(options: FuzzOptions): string {
  // No state kept between runs (the cache would land in the working tree).
  const lines: string[] = ['[cache]', 'enabled = false', ''];
  const dictionaries: string[] = [];
  const operations: string[] = [];
  options.pathIds?.forEach((rule, i) => {
    const bindings = Object.entries(rule.params).map(([param, values]) => {
      const name = `ids_${i}_${param}`;
      dictionaries.push(`${name} = { values = [${values.map(tomlString).join(', ')}] }`);
      return `${tomlString(`path.${param}`)} = { dictionary = ${tomlString(name)}, probability = ${rule.probability} }`;
    });
    operations.push(`[[operations]]\ninclude-path-regex = ${tomlString(rule.pathRegex)}\nparameters = { ${bindings.join(', ')} }\n`);
  });
  if (dictionaries.length) lines.push('[dictionaries]', ...dictionaries, '');
  lines.push(POLICY, ...operations);
  return lines.join('\n');
}

export async function runSchemathesis(options: FuzzOptions): Promise<FuzzResult> {
  if (!existsSync(SCHEMATHESIS)) throw new Error(`${SCHEMATHESIS} is missing: run "node scripts/setup-fuzz.mjs" (npm test does)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fuzz-'));
  const configFile = path.join(dir, 'schemathesis.toml');
  writeFileSync(configFile, configToml(options));
  const junit = path.join(dir, 'junit.xml');
  const ndjson = path.join(dir, 'events.ndjson');
  const args = [
    '--config-file',
    configFile,
    'run',
    `${options.baseUrl}/openapi.json`,
    '--url',
    options.baseUrl,
    '--header',
    `Authorization: Bearer ${options.apiKey}`,
    '--mode',
    options.mode,
    '--checks',
    options.checks.join(','),
    '--max-examples',
    String(options.maxExamples),
    '--phases',
    (options.phases ?? ['examples', 'coverage', 'fuzzing', 'stateful']).join(','),
    '--seed',
    String(options.seed ?? 20261126),
    // One worker: hypothesis describes strategies with Python's ast, which is not thread-safe on
    // Python 3.11 ("AST constructor recursion depth mismatch" errors with several workers).
    '--workers',
    '1',
    '--request-timeout',
    '30',
    '--continue-on-failure',
    '--suppress-health-check',
    'all',
    '--report',
    'junit,ndjson',
    '--report-junit-path',
    junit,
    '--report-ndjson-path',
    ndjson,
    '--output-truncate',
    'false',
    ...(options.excludePathRegex ? ['--exclude-path-regex', options.excludePathRegex] : []),
  ];
  const child = spawn(SCHEMATHESIS, args, {
    env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false', SCHEMATHESIS_HOOKS: HOOKS },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
  const exitCode: number | null = await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);

  const xml = existsSync(junit) ? readFileSync(junit, 'utf8') : '';
  const operations = [...xml.matchAll(/<testcase /g)].length;
  const failures = [...xml.matchAll(/<testcase[^>]*name="([^"]*)"[^>]*>\s*<(?:failure|error)[^>]*message="([^"]*)"/g)].map((m) => ({
    operation: m[1]!,
    message: m[2]!.split('\n')[0]!,
  }));
  return { exitCode, output, ...readEvents(ndjson), operations, failures };
}

function readEvents(ndjsonPath: string): Pick<FuzzResult, 'cases' | 'accepted'> {
  const result: Pick<FuzzResult, 'cases' | 'accepted'> = { cases: 0, accepted: [] };
  if (!existsSync(ndjsonPath)) return result;
  for (const line of readFileSync(ndjsonPath, 'utf8').split('\n')) {
    if (!line) continue;
    const recorder = (JSON.parse(line) as Record<string, any>).ScenarioFinished?.recorder;
    if (!recorder) continue;
    result.cases += Object.keys(recorder.cases ?? {}).length;
    for (const [id, interaction] of Object.entries<any>(recorder.interactions ?? {})) {
      const status = interaction.response?.status_code as number | undefined;
      const method = interaction.request.method as string;
      if (status && status < 300 && !['GET', 'HEAD', 'OPTIONS'].includes(method)) {
        const meta = recorder.cases?.[id]?.value?.meta;
        result.accepted.push({ method, url: interaction.request.uri, status, generatedAs: meta?.generation?.mode ?? 'unknown' });
      }
    }
  }
  return result;
}
