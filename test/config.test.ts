import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';

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
});
