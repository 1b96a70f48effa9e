// Liveness and readiness. /healthz never touches the database. /readyz checks
// that PostgreSQL answers within 1 s, that both schemas are current, and that the
// process is not shutting down; a 503 names the failing check.
import { type RequestHandler, Router } from 'express';
import { HttpError, unavailable } from './problem.ts';

export const READY_DB_TIMEOUT_MS = 1000;

export interface Readiness {
  shuttingDown: boolean;
  /** Resolves to undefined when ready, else a reason (e.g. pending migrations). */
  schemaProblem(): Promise<string | undefined>;
  pingDatabase(): Promise<void>;
}

/**
 * Rejects if p has not settled after ms. The rejection waits one more turn of the
 * event loop (setImmediate runs after the I/O poll phase), so when our own event
 * loop was busy (e.g. compiling the OpenAPI spec at start) an answer that already
 * arrived still wins: the timeout measures the database, not us.
 */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  let immediate: NodeJS.Immediate;
  return Promise.race([
    p.finally(() => {
      clearTimeout(timer);
      clearImmediate(immediate);
    }),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        immediate = setImmediate(() => reject(new Error('timeout')));
      }, ms);
    }),
  ]);
}

export function healthRoutes(readiness: Readiness): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    if (readiness.shuttingDown) throw new HttpError(503, 'shutting_down', 'shutdown: the service is shutting down');
    try {
      await withTimeout(readiness.pingDatabase(), READY_DB_TIMEOUT_MS);
    } catch {
      throw new HttpError(503, 'database_unavailable', `database: PostgreSQL did not answer within ${READY_DB_TIMEOUT_MS} ms`);
    }
    const problem = await withTimeout(readiness.schemaProblem(), READY_DB_TIMEOUT_MS).catch(() => 'schema check timed out');
    if (problem) throw new HttpError(503, 'migrations_pending', `migrations: ${problem}`);
    res.json({ status: 'ready', checks: { database: 'ok', migrations: 'ok', shutdown: 'ok' } });
  });
  return r;
}

/** Until the service is ready, /api/ answers 503 migrations_pending instead of failing on missing tables. */
export function apiWhenReady(isReady: () => boolean): RequestHandler {
  return (req, _res, next) =>
    isReady() || !req.path.startsWith('/api/')
      ? next()
      : next(unavailable('migrations_pending', 'the database schema is not current; run npm run migrate'));
}
