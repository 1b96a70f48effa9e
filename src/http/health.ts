// Liveness and readiness. /healthz never touches the database. /readyz checks
// that PostgreSQL answers within 1 s, that both schemas are current, and that the
// process is not shutting down; a 503 names the failing check.
import { Router } from 'express';
import { HttpError } from './problem.ts';

export const READY_DB_TIMEOUT_MS = 1000;

export interface Readiness {
  shuttingDown: boolean;
  /** Resolves to undefined when ready, else a reason (e.g. pending migrations). */
  schemaProblem(): Promise<string | undefined>;
  pingDatabase(): Promise<void>;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
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
