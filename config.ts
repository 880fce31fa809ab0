import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

// Every setting the service reads, validated once at start-up. A bad value stops the process
// with one line naming the variable, so an operator never has to read a stack trace. This is the
// only module that reads process.env; everything else is handed the frozen result.

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port(3000),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_BASE_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z.stringbool().optional(),
  DATA_DIR: z.string().default('.data'),

  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
  ),

  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('email-sequences'),
  TEMPORAL_CLI_PATH: optionalString,
  /** The time-skipping test server (tests only); unset, the project's .temporal-venv, then PATH. */
  TEMPORAL_TEST_SERVER_PATH: optionalString,
  TEMPORAL_DEV_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),

  RESEND_API_KEY: optionalString,
  RESEND_BASE_URL: optionalString.pipe(z.url().optional()),
  RESEND_WEBHOOK_SECRET: optionalString,
  PLATFORM_FROM_EMAIL: z.email().default('sequences@mail.example.com'),
  INBOUND_DOMAIN: z.string().default('reply.example.com'),
  INBOUND_MIME_SECRET: optionalString,
  /**
   * The authserv-ids (RFC 8601) of the servers that receive our inbound mail (Resend's, or the
   * provider posting raw MIME), comma-separated. An email's From counts as its sender's only by
   * the topmost Authentication-Results header, and only when one of these servers wrote it; a
   * reply reaches the lead's colleagues only then (docs/security.md). Unset: no server's results
   * are believed, and replies reach no colleagues.
   */
  INBOUND_AUTHSERV_IDS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(/[\s,]+/)
        .map((id) => id.toLowerCase())
        .filter(Boolean),
    ),
  UNSUBSCRIBE_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  /** Threads that compose emails (domain/compose-pool.ts); unset, the cores less one. */
  COMPOSE_THREADS: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(1).optional()),
  /** The worker process touches this file every 10 s while it runs (container health checks). */
  WORKER_HEARTBEAT_FILE: optionalString,
  /** The worker process's /metrics; 0 turns it off. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  TEMPORAL_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  SEND_RATE_PER_SECOND: z.coerce.number().positive().optional(),
  /** Requests per minute per API key on /v1; 0 turns the limit off. */
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  /** Requests per minute per client IP on /u/… (unsubscribe pages and one-click POSTs); 0: off. */
  UNSUBSCRIBE_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(300),
  /** Requests per minute per client IP on /webhooks/… and /inbound/…; 0: off. */
  WEBHOOK_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
  /**
   * Which proxies' X-Forwarded-For is believed for the client IP (Express "trust proxy"): by
   * default the private-network hops a load balancer sits on, never a client's own header.
   */
  TRUST_PROXY: z.string().trim().default('loopback, linklocal, uniquelocal'),
  /** Bearer token of GET /metrics on the API port; unset, the API answers 404 there. */
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  /**
   * Development only: portal webhooks may go to private and loopback addresses (a portal on
   * 127.0.0.1). Cloud metadata addresses stay refused; never allowed with NODE_ENV=production.
   */
  PORTAL_WEBHOOK_ALLOW_PRIVATE: z.stringbool().default(false),
});

/** The validated settings, frozen: a value derived from them is computed, never written back. */
export type Config = Readonly<z.infer<typeof configSchema> & { PUBLIC_BASE_URL: string; UNSUBSCRIBE_SECRET: string }>;

export interface LoadConfigOptions {
  /**
   * `npm start`: outside production, with UNSUBSCRIBE_SECRET unset, a random secret is made on
   * first start and kept in DATA_DIR/unsubscribe-secret, so a laptop needs none configured and its
   * links keep working across restarts. Without this option the fixed development key is used.
   */
  persistDevelopmentSecret?: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`Configuration error: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

function parseOrThrow<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const variable = String(issue.path[0] ?? 'environment');
  const received = env[variable];
  throw new ConfigError(variable, `${issue.message}${received === undefined ? '' : ` (got "${received}")`}`);
}

const DEVELOPMENT_UNSUBSCRIBE_SECRET = 'development-only-unsubscribe-secret-change-me';

function persistedDevelopmentSecret(dataDir: string): string {
  const file = path.join(path.resolve(dataDir), 'unsubscribe-secret');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  const config = parseOrThrow(configSchema, env);
  if (config.NODE_ENV === 'production') {
    for (const required of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'UNSUBSCRIBE_SECRET', 'PUBLIC_BASE_URL'] as const) {
      if (!config[required]) throw new ConfigError(required, 'is required when NODE_ENV=production');
    }
    if (config.PORTAL_WEBHOOK_ALLOW_PRIVATE)
      throw new ConfigError('PORTAL_WEBHOOK_ALLOW_PRIVATE', 'must not be true when NODE_ENV=production');
  }
  return Object.freeze({
    ...config,
    PUBLIC_BASE_URL: config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`,
    // Outside production (where it is required) a fixed key keeps links working across restarts.
    UNSUBSCRIBE_SECRET:
      config.UNSUBSCRIBE_SECRET ??
      (options.persistDevelopmentSecret ? persistedDevelopmentSecret(config.DATA_DIR) : DEVELOPMENT_UNSUBSCRIBE_SECRET),
  });
}

/** Entry points call this: a config error becomes one line on stderr and exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  try {
    return loadConfig(env, options);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

const processSettingsSchema = configSchema
  .pick({ COMPOSE_THREADS: true, TEMPORAL_CLI_PATH: true, TEMPORAL_TEST_SERVER_PATH: true })
  .extend({ PATH: z.string().default('') });

export type ProcessSettings = Readonly<z.infer<typeof processSettingsSchema>>;

/**
 * The few settings read by modules that no Config reaches, because tests and benchmarks use them
 * without a service: the compose thread pool (COMPOSE_THREADS) and the lookup of the Temporal
 * binaries (TEMPORAL_CLI_PATH, TEMPORAL_TEST_SERVER_PATH, PATH). Same rules as loadConfig.
 */
export function processSettings(env: NodeJS.ProcessEnv = process.env): ProcessSettings {
  return Object.freeze(parseOrThrow(processSettingsSchema, env));
}
