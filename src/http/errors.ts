// The one error middleware: turns everything (our HttpErrors, the OpenAPI
// validator's errors, body-parser errors, database outages) into problem+json.
// Only 5xx are logged, with the stack; responses never carry a stack.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DB_CONFLICT_CODES, QUERY_DEADLINE_ERROR } from '../db/pool.ts';
import { isPgbossVersionError, isSchemaVersionError, reportIfVersionError } from '../db/version-guard.ts';
import { type FieldError, HttpError } from './problem.ts';

// PostgreSQL / node-postgres failures that mean "the database is not there or too slow":
// answer 503 so clients retry, never 500.
const DB_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  // read_only_sql_transaction: during a failover a connection can reach a standby not yet
  // promoted or a demoted old primary; the write goes through once it reaches the primary.
  '25006',
]);
// A batch of invalid jobs could name thousands of fields; the first ones are enough to fix it.
export const MAX_FIELD_ERRORS = 50;
const DB_TIMEOUT_CODES = new Set(['57014', '55P03']); // query_canceled (statement_timeout), lock_not_available
// A transaction PostgreSQL aborted to break a lock cycle or a serialization conflict:
// nothing was written, so the client may simply send the same request again. Statements
// lock rows in one global order (id) so these should not happen; if one does, it is 503.

function isDbUnavailable(err: any): boolean {
  if (DB_UNAVAILABLE_CODES.has(err?.code)) return true;
  const msg = String(err?.message ?? '');
  return (
    msg.includes('timeout exceeded when trying to connect') ||
    msg.includes('Connection terminated') ||
    msg.includes('Client has encountered a connection error') ||
    msg.includes('connect ECONNREFUSED') ||
    // node-postgres' client-side query deadline (pool.ts): the connection stopped answering.
    msg === QUERY_DEADLINE_ERROR
  );
}

/** Maps any thrown value to an HttpError. */
export function toHttpError(err: any): HttpError {
  if (err instanceof HttpError) return err;
  // express-openapi-validator errors carry status + errors[{path, message}].
  if (Array.isArray(err?.errors) && typeof err?.status === 'number') {
    const errors: FieldError[] = err.errors.slice(0, MAX_FIELD_ERRORS).map((e: any) => ({
      path: e.path ?? '',
      message: e.message ?? 'invalid',
    }));
    if (err.status === 415) return new HttpError(415, 'unsupported_media_type', 'send application/json');
    if (err.status === 413) return new HttpError(413, 'too_large', 'request body is too large');
    if (err.status === 404) return new HttpError(404, 'route_not_found', 'no such route');
    if (err.status === 405) return new HttpError(405, 'method_not_allowed', 'method not allowed on this route');
    if (err.status === 400) return new HttpError(400, 'validation_failed', 'request is invalid', { errors });
  }
  // body-parser errors
  if (err?.type === 'entity.too.large') return new HttpError(413, 'too_large', `request body is over ${err.limit} bytes`);
  if (err?.type === 'entity.parse.failed') return new HttpError(400, 'malformed_json', 'request body is not valid JSON');
  if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported')
    return new HttpError(415, 'unsupported_media_type', 'unsupported body encoding');
  // Any other client error body-parser raises (a corrupt gzip stream, a size mismatch, an
  // aborted upload) is the client's: its 4xx, not a 500.
  if (err?.expose === true && err.status >= 400 && err.status < 500)
    return new HttpError(err.status, 'malformed_body', 'request body could not be read');
  if (isPgbossVersionError(err))
    return new HttpError(503, 'pgboss_version_mismatch', 'a newer pg-boss migrated the database; this replica no longer writes');
  if (isSchemaVersionError(err))
    return new HttpError(
      503,
      'schema_version_mismatch',
      'a newer release migrated the database past this build; this replica no longer writes',
    );
  if (DB_TIMEOUT_CODES.has(err?.code)) return new HttpError(503, 'database_timeout', 'the database did not answer in time');
  if (DB_CONFLICT_CODES.has(err?.code)) return new HttpError(503, 'database_conflict', 'the request collided with another; send it again');
  if (isDbUnavailable(err)) return new HttpError(503, 'database_unavailable', 'the database is unavailable');
  if (err?.code === '22P05' || (err?.code === '22P02' && /json/i.test(String(err?.message))))
    return new HttpError(400, 'validation_failed', 'JSON contains a value PostgreSQL cannot store');
  return new HttpError(500, 'internal', 'internal error');
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const problem = toHttpError(err);
  reportIfVersionError(err);
  if (problem.status >= 500) req.log?.error({ err }, 'request failed');
  if (res.headersSent) return;
  if (problem.status === 503) res.setHeader('Retry-After', '1');
  for (const [k, v] of Object.entries(problem.headers ?? {})) res.setHeader(k, v);
  res
    .status(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify(problem.toProblem(req.originalUrl)));
};

export const notFoundHandler: RequestHandler = (_req, _res, next) => {
  next(new HttpError(404, 'route_not_found', 'no such route'));
};
