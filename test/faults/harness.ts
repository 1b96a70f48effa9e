// Processes for the fault-injection suite: a PostgreSQL server each scenario can
// stop and restart, service replicas as real child processes (so they can be
// killed with SIGKILL), and the consistency check run as ops would run it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { type EmbeddedDatabase, freePort, startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { migrateBoss } from '../../src/pgboss/boss.ts';
import { waitUntil } from '../support/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const NODE = process.execPath;

export interface Database {
  url: string;
  server: EmbeddedDatabase;
  stop(): Promise<void>;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

/** A private PostgreSQL server with a migrated database. */
export async function startDatabase(): Promise<Database> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ai-service-faults-'));
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres(path.join(dir, 'pg'), { fast: true });
  const url = server.url;
  const pool = createPool(url, loadConfig({}).db);
  await migrate(pool);
  await pool.end();
  await migrateBoss(url, createLogger('silent'));
  return {
    url,
    server,
    stop: () => server.stop(),
    restart: () => server.restart(),
    destroy: async () => {
      await server.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Replica {
  url: string;
  proc: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `node src/main.ts` on a free loopback port and waits until it is ready. */
export async function startReplica(databaseUrl: string, env: Record<string, string> = {}): Promise<Replica> {
  const port = await freePort();
  const proc = spawn(NODE, ['src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: databaseUrl,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'info',
      REAPER_INTERVAL: '200ms',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  proc.stdout!.on('data', (d) => output.push(...d.toString().split('\n').filter(Boolean)));
  proc.stderr!.on('data', (d) => output.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    async () => {
      if (proc.exitCode !== null) throw new Error(`replica exited: ${output.join('\n')}`);
      const res = await fetch(`${url}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 30_000, what: 'replica ready' },
  );
  return { url, proc, output, exited, kill: (signal) => proc.kill(signal) };
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
  const { stdout } = await promisify(execFile)(NODE, ['scripts/check-consistency.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
  });
  return stdout;
}

export async function sql<T = any>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
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
