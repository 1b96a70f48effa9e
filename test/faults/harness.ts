// Processes for the fault-injection suite: a PostgreSQL server each scenario can
// stop and restart, service replicas as real child processes (so they can be
// killed with SIGKILL), and the consistency check run as ops would run it.
import type { EmbeddedDatabase } from '../../src/dev/embedded.ts';
import { migrateDatabase, startTempPostgres, withClient } from '../support/postgres.ts';
import { runConsistencyCli } from '../support/consistency.ts';
import { type ServiceProcess, startServiceProcess } from '../support/service-process.ts';

export interface Database {
  url: string;
  server: EmbeddedDatabase;
  stop(): Promise<void>;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

/** A private PostgreSQL server with a migrated database. */
export async function startDatabase(): Promise<Database> {
  const pg = await startTempPostgres('faults', { fast: true });
  await migrateDatabase(pg.url);
  return {
    url: pg.url,
    server: pg.server,
    stop: () => pg.server.stop(),
    restart: () => pg.server.restart(),
    destroy: () => pg.destroy(),
  };
}

export type Replica = ServiceProcess;

/** Starts `node src/main.ts` on a free loopback port and waits until it is ready. */
export function startReplica(databaseUrl: string, env: Record<string, string> = {}): Promise<Replica> {
  return startServiceProcess({ databaseUrl, env: { LOG_LEVEL: 'info', REAPER_INTERVAL: '200ms', ...env } });
}

/**
 * Registers the hooks every scenario needs: a private database before, and after
 * it, every replica started through `replica()` killed and the database removed.
 */
export function faultScenario() {
  let db: Database | undefined;
  const replicas: Replica[] = [];
  before(async () => {
    db = await startDatabase();
  });
  after(async () => {
    await stopReplicas(replicas);
    await db?.destroy();
  });
  return {
    get db(): Database {
      if (!db) throw new Error('the scenario database is not started yet');
      return db;
    },
    async replica(env: Record<string, string> = {}): Promise<Replica> {
      const r = await startReplica(this.db.url, env);
      replicas.push(r);
      return r;
    },
  };
}

export async function stopReplicas(replicas: Replica[]): Promise<void> {
  for (const r of replicas) if (r.proc.exitCode === null) r.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.exited));
}

/** Runs `npm run check:consistency` against the database; resolves with its output, rejects on violations. */
export async function checkConsistency(databaseUrl: string): Promise<string> {
  const { code, out } = await runConsistencyCli(databaseUrl);
  if (code !== 0) throw new Error(`check:consistency exited ${code}:\n${out}`);
  return out;
}

export function sql<T = any>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  return withClient(databaseUrl, async (c) => (await c.query(text, values)).rows);
}

export interface CallResult {
  status: number;
  body: any;
  error?: string;
}

/** One JSON call that never throws: network failures come back as status 0 with the error code. */
export async function call(url: string, method: string, body?: unknown, timeoutMs = 15_000): Promise<CallResult> {
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch (err: any) {
    return { status: 0, body: null, error: err?.cause?.code ?? err?.name ?? String(err) };
  }
}
