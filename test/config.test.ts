import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, processSettings } from '../config.js';

describe('configuration', () => {
  it('fills defaults for a laptop with nothing set', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.TEMPORAL_ADDRESS).toBeUndefined();
    expect(config.PUBLIC_BASE_URL).toBe('http://localhost:3000');
    expect(config.API_RATE_LIMIT_PER_MINUTE).toBe(600);
  });

  it('names the variable when a value is malformed', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrowError(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrowError(/^Configuration error: PORT .*"eighty"/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrowError(/DATABASE_URL must be a postgres:\/\/ URL/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrowError(/LOG_LEVEL/);
    expect(() => loadConfig({ API_RATE_LIMIT_PER_MINUTE: '-1' })).toThrowError(/API_RATE_LIMIT_PER_MINUTE/);
  });

  it('requires the production settings in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x' })).toThrowError(
      /TEMPORAL_ADDRESS is required when NODE_ENV=production/,
    );
  });

  it('stops start-up with one line on stderr and no stack trace', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'server.ts'], {
      env: { ...process.env, PORT: '99999' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Configuration error: PORT /)]);
  });

  it('is frozen once validated: a derived value is computed, never written back', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { PORT: number }).PORT = 1;
    }).toThrowError(TypeError);
  });

  it('keeps a laptop secret in DATA_DIR when asked to (npm start), the fixed development key otherwise', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'config-test-'));
    try {
      const first = loadConfig({ DATA_DIR: dataDir }, { persistDevelopmentSecret: true });
      expect(first.UNSUBSCRIBE_SECRET).toBe(readFileSync(path.join(dataDir, 'unsubscribe-secret'), 'utf8'));
      expect(first.UNSUBSCRIBE_SECRET.length).toBeGreaterThanOrEqual(32);
      expect(statSync(path.join(dataDir, 'unsubscribe-secret')).mode & 0o077).toBe(0);
      expect(loadConfig({ DATA_DIR: dataDir }, { persistDevelopmentSecret: true }).UNSUBSCRIBE_SECRET).toBe(first.UNSUBSCRIBE_SECRET);
      const configured = 'c'.repeat(32);
      expect(loadConfig({ DATA_DIR: dataDir, UNSUBSCRIBE_SECRET: configured }, { persistDevelopmentSecret: true }).UNSUBSCRIBE_SECRET).toBe(
        configured,
      );
      expect(loadConfig({ DATA_DIR: dataDir }).UNSUBSCRIBE_SECRET).not.toBe(first.UNSUBSCRIBE_SECRET);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('validates the process-wide settings by the same rules', () => {
    expect(processSettings({ COMPOSE_THREADS: '3', PATH: '/bin' })).toMatchObject({ COMPOSE_THREADS: 3, PATH: '/bin' });
    expect(processSettings({ COMPOSE_THREADS: '' }).COMPOSE_THREADS).toBeUndefined();
    expect(() => processSettings({ COMPOSE_THREADS: '0' })).toThrowError(/^Configuration error: COMPOSE_THREADS /);
    expect(() => loadConfig({ COMPOSE_THREADS: 'many' })).toThrowError(/COMPOSE_THREADS/);
    expect(loadConfig({ WORKER_HEARTBEAT_FILE: '/tmp/beat' }).WORKER_HEARTBEAT_FILE).toBe('/tmp/beat');
  });

  it('is the only module of the service that reads process.env', () => {
    // Tests, benchmarks, scripts and tool configs may; the service is handed its Config.
    const skip = new Set(['node_modules', 'dist', 'test', 'bench', 'scripts', '.data', '.temporal-venv', '.fuzz-venv', '.git']);
    const tools = new Set(['config.ts', 'vitest.config.ts', 'drizzle.config.ts', 'eslint.config.js']);
    const readers: string[] = [];
    const visit = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!skip.has(entry.name) && !entry.name.startsWith('.')) visit(file);
        } else if (/\.(ts|mjs|js)$/.test(entry.name) && !(dir === '.' && tools.has(entry.name))) {
          if (/process\.env\b/.test(readFileSync(file, 'utf8'))) readers.push(file);
        }
      }
    };
    visit('.');
    expect(readers).toEqual([]);
  });
});
