import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../db/client.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';
import { workflowsPath } from '../temporal/worker.js';
import { createDatabaseFromTemplate } from './helpers/database.js';

/**
 * Once per test run: a migrated PostgreSQL template database on the machine's server (each test
 * file gets its own copy: `testDatabaseUrl()` in test/helpers/service.ts), a real Temporal dev
 * server, and the workflow code bundled once for every worker the tests create. Test files run
 * side by side (vitest.config.ts), so nothing a file sees may be another file's: its own
 * database, its own task queue, its own Resend sink.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    /** A database of the run shared by whoever asks for it; test files use their own (`testDatabaseUrl()`). */
    databaseUrl: string;
    adminDatabaseUrl: string;
    /** The migrated database every test file's own database is copied from; nobody connects to it. */
    templateDatabaseUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let devServer: DevServer | undefined;
let dbName: string | undefined;
let bundleDir: string | undefined;

export async function setup(project: TestProject) {
  dbName = `es_test_${Date.now()}_${process.pid}`;
  const template = `${dbName}_template`;
  const urlOf = (name: string) => ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${template}`);
    const database = await openDatabase({ url: urlOf(template), dataDir: '.data' });
    await database.migrate();
    await database.close();
    await createDatabaseFromTemplate(admin, dbName, template);
  } finally {
    await admin.end();
  }
  const databaseUrl = urlOf(dbName);

  const [server, bundle] = await Promise.all([
    startDevServer({}),
    bundleWorkflowCode({
      workflowsPath,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
    }),
  ]);
  devServer = server;
  bundleDir = mkdtempSync(path.join(os.tmpdir(), 'es-bundle-'));
  const workflowBundlePath = path.join(bundleDir, 'workflows.js');
  writeFileSync(workflowBundlePath, bundle.code);

  project.provide('databaseUrl', databaseUrl);
  project.provide('adminDatabaseUrl', ADMIN_URL);
  project.provide('templateDatabaseUrl', urlOf(template));
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', workflowBundlePath);
}

export async function teardown() {
  await devServer?.stop();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  if (dbName) {
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    try {
      // The run's databases: the template, the shared one, and one per test file.
      const names = await admin<{ datname: string }[]>`select datname from pg_database where starts_with(datname, ${dbName})`;
      for (const { datname } of names) await admin.unsafe(`drop database if exists ${datname} with (force)`);
    } finally {
      await admin.end();
    }
  }
}
