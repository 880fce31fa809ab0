import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { TemplateError } from '../domain/merge-fields.js';

/**
 * Every error the API answers has one shape: `{ error: { code, message, field? } }`. Codes are
 * machine-readable and stable; messages are for people.
 */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
});

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

export const unknownRoute: RequestHandler = (req, _res, next) =>
  next(new ApiError(404, 'route_not_found', `No route for ${req.method} ${req.path}`));

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * 405 with an `Allow` header for a method a documented path does not have (RFC 9110), and the
 * answer to OPTIONS, from the OpenAPI document's paths. A literal segment beats a parameter:
 * `/v1/leads/import` is not `/v1/leads/{id}`, `…/steps/order` is not `…/steps/{stepId}`, so a
 * request is never routed to a parameter route a literal path shadows. HEAD goes with GET.
 * Runs before routing, so a refused method never reaches a handler (or the API key check: the
 * document is public).
 */
export function methodNotAllowed(paths: Record<string, object>): RequestHandler {
  const templates = Object.entries(paths).map(([template, item]) => {
    const segments = template.split('/').slice(1);
    const pattern = segments.map((s) => (/^\{\w+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
    const methods = Object.keys(item)
      .filter((m) => HTTP_METHODS.includes(m))
      .map((m) => m.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    methods.push('OPTIONS');
    // Express matches case-insensitively and with or without a trailing slash.
    return { regex: new RegExp(`^/${pattern}/?$`, 'i'), literals: segments.filter((s) => !s.startsWith('{')).length, methods };
  });
  return (req, res, next) => {
    const matching = templates.filter((t) => t.regex.test(req.path));
    if (!matching.length) return next();
    const best = matching.reduce((a, b) => (b.literals > a.literals ? b : a));
    const allow = best.methods.join(', ');
    if (req.method === 'OPTIONS') return void res.set('allow', allow).status(204).end();
    if (best.methods.includes(req.method)) return next();
    res.set('allow', allow);
    next(new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${allow}`));
  };
}

export function zodToApiError(error: z.ZodError, location: 'body' | 'query' | 'params' = 'body'): ApiError {
  const issue = error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : undefined;
  return new ApiError(400, 'validation_error', `${field ?? location}: ${issue.message}`, field);
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (err instanceof z.ZodError) err = zodToApiError(err);
  // A stored template that no longer renders (a preview or test send of it).
  if (err instanceof TemplateError) err = new ApiError(422, err.code, err.message);
  if (!(err instanceof ApiError)) {
    // body-parser's errors carry `type` and `status`; anything else is our bug.
    const parserError = err as { type?: string; status?: number; message?: string };
    if (parserError.type === 'entity.parse.failed') err = new ApiError(400, 'malformed_json', 'The body is not valid JSON');
    else if (parserError.type === 'entity.too.large') err = new ApiError(413, 'payload_too_large', 'The body is too large');
    else if (parserError.type?.startsWith('encoding.') || parserError.type === 'charset.unsupported')
      err = new ApiError(415, 'unsupported_encoding', parserError.message ?? 'Unsupported encoding');
    else {
      req.log?.error({ err }, 'unhandled error');
      err = new ApiError(500, 'internal_error', 'Something went wrong on our side');
    }
  }
  const apiError = err as ApiError;
  res.status(apiError.status).json({
    error: { code: apiError.code, message: apiError.message, ...(apiError.field ? { field: apiError.field } : {}) },
  });
};
