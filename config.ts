import { z } from 'zod';

/**
 * Every setting the service reads, validated once at start-up. A bad value stops the process
 * with one line naming the variable, so an operator never has to read a stack trace.
 */
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
  TEMPORAL_DEV_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),

  RESEND_API_KEY: optionalString,
  RESEND_BASE_URL: optionalString.pipe(z.url().optional()),
  RESEND_WEBHOOK_SECRET: optionalString,
  PLATFORM_FROM_EMAIL: z.email().default('sequences@mail.example.com'),
  INBOUND_DOMAIN: z.string().default('reply.example.com'),
  INBOUND_MIME_SECRET: optionalString,
  UNSUBSCRIBE_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
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

export type Config = z.infer<typeof configSchema> & { PUBLIC_BASE_URL: string; UNSUBSCRIBE_SECRET: string };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`Configuration error: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const received = env[variable];
    throw new ConfigError(variable, `${issue.message}${received === undefined ? '' : ` (got "${received}")`}`);
  }
  const config = parsed.data;
  if (config.NODE_ENV === 'production') {
    for (const required of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'UNSUBSCRIBE_SECRET', 'PUBLIC_BASE_URL'] as const) {
      if (!config[required]) throw new ConfigError(required, 'is required when NODE_ENV=production');
    }
    if (config.PORTAL_WEBHOOK_ALLOW_PRIVATE)
      throw new ConfigError('PORTAL_WEBHOOK_ALLOW_PRIVATE', 'must not be true when NODE_ENV=production');
  }
  return {
    ...config,
    PUBLIC_BASE_URL: config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`,
    // Outside production a fixed key keeps links working across restarts; `npm start` replaces
    // it with a random one kept in DATA_DIR.
    UNSUBSCRIBE_SECRET: config.UNSUBSCRIBE_SECRET ?? 'development-only-unsubscribe-secret-change-me',
  };
}

/** Entry points call this: a config error becomes one line on stderr and exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}
