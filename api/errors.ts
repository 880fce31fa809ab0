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
