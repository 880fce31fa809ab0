#!/usr/bin/env node
// `npm run smoke:dist`: proves the compiled build runs without tsx. It builds dist/ (unless
// --no-build) and, from a copy of the app as the production image holds it (dist/, package.json,
// production dependencies, no tsx), on fresh PostgreSQL databases of the machine's server
// (embedded PGlite for `npm start` if there is none), runs
//   1. `node dist/start.js` (laptop: API, worker and the Temporal dev server in one process), and
//   2. `node dist/server.js` and `node dist/worker.js` with NODE_ENV=production, as the compose
//      services do, on a Temporal dev server of their own (an account from dist/scripts/),
// and checks each end to end: GET /healthz and /readyz answer 200, a sequence is saved (its
// template checked on a compose thread), an enrolled lead's first email is sent (the worker
// bundled the compiled workflows and ran the compiled activities), the worker serves /metrics
// and its heartbeat file, and SIGINT/SIGTERM stop every process with exit code 0.
/* global fetch, setTimeout, AbortSignal */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN_URL = process.env.SMOKE_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const STARTUP_TIMEOUT_MS = 180_000;
const say = (message) => console.log(`smoke:dist: ${message}`);

if (!process.argv.includes('--no-build')) execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (!existsSync(path.join(root, 'dist', 'start.js'))) throw new Error('dist/start.js is missing: run `npm run build`');

// The app as the production image has it: package.json, dist/, and the production dependencies
// (`npm ci --omit=dev`), each a link into the project's node_modules, except tsx, so that an
// import of a dev dependency or of tsx from dist/ fails here.
const scratch = mkdtempSync(path.join(os.tmpdir(), 'smoke-dist-'));
const app = path.join(scratch, 'app');
mkdirSync(path.join(app, 'node_modules'), { recursive: true });
// Copies, not links: Node runs a linked entry point from its real path, which would find tsx.
cpSync(path.join(root, 'dist'), path.join(app, 'dist'), { recursive: true });
cpSync(path.join(root, 'package.json'), path.join(app, 'package.json'));
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
for (const [where, entry] of Object.entries(lock.packages)) {
  const name = where.replace(/^node_modules\//, '');
  if (!where.startsWith('node_modules/') || name.includes('/node_modules/') || entry.dev || name === 'tsx') continue;
  if (!existsSync(path.join(root, where))) continue; // an optional dependency for another platform
  mkdirSync(path.dirname(path.join(app, where)), { recursive: true });
  symlinkSync(path.join(root, where), path.join(app, where));
}

const { temporalCliPath } = await import(path.join(root, 'dist', 'temporal', 'binaries.js'));
const cli = temporalCliPath();
if (!cli) throw new Error('Temporal CLI not found: run `npm run setup` (or set TEMPORAL_CLI_PATH)');

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function freshDatabase() {
  try {
    const { default: postgres } = await import('postgres');
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
    const name = `sequences_smoke_${randomBytes(4).toString('hex')}`;
    try {
      await admin.unsafe(`create database ${name}`);
    } catch (error) {
      await admin.end({ timeout: 5 });
      throw error;
    }
    cleanups.push(async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end({ timeout: 5 });
    });
    return ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  } catch (error) {
    say(`no PostgreSQL at ${ADMIN_URL} (${error.message})`);
    return undefined;
  }
}

const cleanups = [];
const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME ?? scratch, HOST: '127.0.0.1', LOG_LEVEL: 'warn', LOG_PRETTY: 'false' };

/** A process of the app: `node dist/<script>` in the copy, its output kept for a failure report. */
function run(script, env, args = []) {
  const child = spawn(process.execPath, ['--enable-source-maps', script, ...args], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name: script, child, output: '' };
  child.stdout.on('data', (chunk) => (proc.output += chunk));
  child.stderr.on('data', (chunk) => (proc.output += chunk));
  proc.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  running.push(proc);
  return proc;
}
const running = [];

async function stop(proc, signal) {
  proc.child.kill(signal);
  const exit = await Promise.race([proc.exited, new Promise((resolve) => setTimeout(() => resolve(undefined), 45_000))]);
  if (!exit) {
    proc.child.kill('SIGKILL');
    throw new Error(`${proc.name} did not stop within 45 s of ${signal}`);
  }
  if (exit.code !== 0) throw new Error(`${proc.name} exited with ${exit.code ?? exit.signal} on ${signal}`);
  running.splice(running.indexOf(proc), 1);
  say(`${proc.name} stopped on ${signal} (exit code 0)`);
}

async function eventually(what, check, timeoutMs, watched = running) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const proc of watched) {
      const exit = await Promise.race([proc.exited, Promise.resolve(undefined)]);
      if (exit) throw new Error(`${proc.name} exited (${exit.code ?? exit.signal}) while waiting for ${what}`);
    }
    try {
      const value = await check();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function apiClient(baseUrl, apiKey) {
  return async (method, url, body) => {
    const response = await fetch(`${baseUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const answer = await response.json().catch(() => undefined);
    if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
}

/** Health, then a sequence, a lead, an enrolment, and its first email sent. */
async function exercise(baseUrl, apiKey) {
  await eventually('GET /healthz', async () => (await fetch(`${baseUrl}/healthz`)).status === 200, STARTUP_TIMEOUT_MS);
  say('GET /healthz 200');
  await eventually('GET /readyz', async () => (await fetch(`${baseUrl}/readyz`)).status === 200, 30_000);
  say('GET /readyz 200 (database and Temporal up)');
  const api = apiClient(baseUrl, apiKey());
  const sequence = await api('POST', '/v1/sequences', {
    name: 'Smoke',
    steps: [
      {
        subject: 'Hello {{ first_name | default: "there" }}',
        body: 'Hi {{ first_name }}, compiled.',
        delay: { amount: 0, unit: 'minutes' },
      },
    ],
  });
  const lead = await api('POST', '/v1/leads', { email: `smoke-${randomBytes(3).toString('hex')}@example.com`, firstName: 'Ada' });
  const enrolment = await api('POST', `/v1/sequences/${sequence.id}/enrolments`, { leadId: lead.id });
  const email = await eventually(
    'the first email sent',
    async () => (await api('GET', '/v1/outbox')).data.find((m) => m.enrolmentId === enrolment.id && m.status === 'sent'),
    60_000,
  );
  if (email.subject !== 'Hello Ada') throw new Error(`unexpected subject "${email.subject}"`);
  say(`enrolment ${enrolment.id}: first email sent by the worker ("${email.subject}")`);
}

async function laptop() {
  say(`1. node dist/start.js (Node ${process.version})`);
  const [port, devPort, uiPort, sdkMetricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dataDir = path.join(scratch, 'laptop');
  const databaseUrl = await freshDatabase();
  if (!databaseUrl) say('using the embedded database');
  const start = run('dist/start.js', {
    ...baseEnv,
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    TEMPORAL_DEV_PORT: String(devPort),
    TEMPORAL_UI_PORT: String(uiPort),
    TEMPORAL_METRICS_PORT: String(sdkMetricsPort),
    TEMPORAL_CLI_PATH: cli,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  await exercise(`http://127.0.0.1:${port}`, () => readFileSync(path.join(dataDir, 'dev-api-key'), 'utf8').trim());
  await stop(start, 'SIGINT');
}

async function production() {
  say('2. node dist/server.js + node dist/worker.js (NODE_ENV=production)');
  const databaseUrl = await freshDatabase();
  if (!databaseUrl) {
    say('skipped: production needs PostgreSQL');
    return;
  }
  const [devPort, port, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const temporal = spawn(
    cli,
    [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(devPort),
      '--log-level',
      'error',
      ...['AccountId', 'SequenceId', 'LeadId', 'EnrolmentStatus', 'SenderId'].flatMap((n) => ['--search-attribute', `${n}=Keyword`]),
    ],
    {
      stdio: 'ignore',
    },
  );
  cleanups.push(() => temporal.kill('SIGTERM'));
  const heartbeatFile = path.join(scratch, 'worker-heartbeat');
  const env = {
    ...baseEnv,
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: `127.0.0.1:${devPort}`,
    UNSUBSCRIBE_SECRET: randomBytes(24).toString('base64url'),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    WORKER_HEARTBEAT_FILE: heartbeatFile,
  };
  const account = run('dist/scripts/create-account.js', env, ['--name', 'Smoke', '--postal-address', '1 Smoke Street']);
  const { code } = await account.exited;
  const apiKey = /^api key (\S+)$/m.exec(account.output)?.[1];
  if (code !== 0 || !apiKey) throw new Error(`dist/scripts/create-account.js failed (${code}): ${account.output}`);
  running.splice(running.indexOf(account), 1);
  say('account created with dist/scripts/create-account.js');
  const server = run('dist/server.js', env);
  const worker = run('dist/worker.js', env);
  await exercise(`http://127.0.0.1:${port}`, () => apiKey);
  const metrics = await eventually(
    "the worker's /metrics",
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /sequences_emails_sent_total\{kind="step"\} [1-9]/.test(text) && text;
    },
    15_000,
  );
  if (metrics) say('worker /metrics counts the email sent');
  await eventually('the worker heartbeat file', async () => existsSync(heartbeatFile), 20_000);
  say('worker heartbeat file written');
  await stop(server, 'SIGTERM');
  await stop(worker, 'SIGTERM');
}

let failed = false;
try {
  await laptop();
  await production();
  say('OK: the compiled build starts, answers, sends and stops');
} catch (error) {
  failed = true;
  console.error(`smoke:dist: FAILED: ${error.message}`);
  for (const proc of running) console.error(`--- ${proc.name} output ---\n${proc.output.slice(-6_000)}`);
} finally {
  for (const proc of running) proc.child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
