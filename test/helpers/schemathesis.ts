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
  lines.push(...operations);
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
    '--config-file', configFile,
    'run', `${options.baseUrl}/openapi.json`,
    '--url', options.baseUrl,
    '--header', `Authorization: Bearer ${options.apiKey}`,
    '--mode', options.mode,
    '--checks', options.checks.join(','),
    '--max-examples', String(options.maxExamples),
    '--phases', (options.phases ?? ['examples', 'coverage', 'fuzzing']).join(','),
    '--seed', String(options.seed ?? 20261126),
    // One worker: hypothesis describes strategies with Python's ast, which is not thread-safe on
    // Python 3.11 ("AST constructor recursion depth mismatch" errors with several workers).
    '--workers', '1',
    '--request-timeout', '30',
    '--continue-on-failure',
    '--suppress-health-check', 'all',
    '--report', 'junit,ndjson',
    '--report-junit-path', junit,
    '--report-ndjson-path', ndjson,
    '--output-truncate', 'false',
    ...(options.excludePathRegex ? ['--exclude-path-regex', options.excludePathRegex] : []),
  ];
  const child = spawn(SCHEMATHESIS, args, { env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' } });
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
