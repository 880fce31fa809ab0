import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON lines in production; human-readable when a person is watching (`npm start`). */
export function createLogger(options: { level: string; pretty?: boolean; destination?: DestinationStream }): Logger {
  const settings = {
    level: options.level,
    redact: {
      paths: [
        'req.headers.authorization',
        '*.apiKey',
        '*.html',
        '*.text',
        '*.body',
        'headers.authorization',
        '*.portalWebhookSecret',
        '*.secret',
      ],
      censor: '[redacted]',
    },
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } }
      : {}),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
