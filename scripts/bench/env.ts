// The bench's environment: one PostgreSQL server (embedded in a temp dir, or
// BENCH_DATABASE_URL) with two databases migrated the same way, one for the
// service and one for the in-process pg-boss baseline, and the service itself as
// a separate `node src/main.ts` process on a free loopback port.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { migrateDatabase, startTempPostgres, withClient, withDatabase } from '../../test/support/postgres.ts';
import { REPO_ROOT, startServiceProcess } from '../../test/support/service-process.ts';
import { OWNER_SERVICE } from './driver.ts';

export { REPO_ROOT };

/** Throwaway tokens for the bench's own service (random per run). */
export const BENCH_TOKENS = {
  producer: randomBytes(24).toString('base64url'),
  worker: randomBytes(24).toString('base64url'),
  admin: randomBytes(24).toString('base64url'),
};

export interface Databases {
  serviceUrl: string;
  baselineUrl: string;
  postgresVersion: string;
  /** The embedded server's postmaster (for CPU accounting); undefined for BENCH_DATABASE_URL. */
  postmasterPid: number | undefined;
  stop(): Promise<void>;
}

async function recreate(serverUrl: string, names: string[]): Promise<string> {
  return withClient(serverUrl, async (c) => {
    for (const name of names) {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${name}`);
    }
    const version = (await c.query('SHOW server_version')).rows[0].server_version;
    const { rows } = await c.query(
      `SELECT name, current_setting(name) AS value FROM unnest($1::text[]) AS name ORDER BY array_position($1::text[], name)`,
      [Object.keys(DEPLOYMENT_SETTINGS)],
    );
    return `${version} (${rows.map((r) => `${r.name} ${r.value}`).join(', ')})`;
  });
}

/**
 * The embedded server's settings: what src/deploy.md asks of a server holding millions of
 * jobs (PostgreSQL's defaults are sized for a laptop). The flush settings matter most: without
 * them, a purge of a million jobs at 10 M stalled commits by up to 0.8 s about every 35 s (we
 * believe the kernel writing back, in bursts, the pages backends had evicted); with them it held
 * under 20 MB of dirty pages and the claim p99 during the purge was 1.84x the p99 before it
 * (scripts/bench/README.md). Durability stays at the defaults (fsync, synchronous_commit,
 * full_page_writes on). A BENCH_DATABASE_URL server keeps its own settings; the report names
 * them either way.
 */
export const DEPLOYMENT_SETTINGS: Record<string, string> = {
  shared_buffers: '2GB',
  max_wal_size: '8GB',
  checkpoint_timeout: '15min',
  backend_flush_after: '256kB',
  bgwriter_lru_maxpages: '1000',
};

/**
 * Starts (or connects to) PostgreSQL and creates fresh, migrated `bench_service`
 * and `bench_baseline` databases. The embedded server runs with DEPLOYMENT_SETTINGS and
 * stays durable: the numbers are meant to be those of a real deployment.
 */
export async function startDatabases(givenUrl: string | undefined): Promise<Databases> {
  const embedded = givenUrl ? undefined : await startTempPostgres('bench', { settings: DEPLOYMENT_SETTINGS });
  const serverUrl = givenUrl ?? embedded!.url;
  const stop = async () => {
    await embedded?.destroy();
  };
  try {
    const postgresVersion = await recreate(serverUrl, ['bench_service', 'bench_baseline']);
    const serviceUrl = withDatabase(serverUrl, 'bench_service');
    const baselineUrl = withDatabase(serverUrl, 'bench_baseline');
    await migrateDatabase(serviceUrl);
    await migrateDatabase(baselineUrl);
    return { serviceUrl, baselineUrl, postgresVersion, postmasterPid: embedded?.postmasterPid, stop };
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

/**
 * Starts the service as `npm start` does, in production mode with access control
 * on (the bench pays what a deployment pays), and resolves once GET /readyz
 * answers 200. Its stdin is a pipe from the bench: child-guard.ts stops it when
 * the bench dies, even by SIGKILL.
 */
export async function startBenchService(databaseUrl: string, extraNodeArgs: string[] = []): Promise<ServiceProcess> {
  const guard = path.join(import.meta.dirname, 'child-guard.ts');
  const service = await startServiceProcess({
    databaseUrl,
    nodeArgs: [...startFlags(), ...extraNodeArgs, '--import', guard],
    output: 'inherit',
    stdin: 'pipe',
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      API_TOKENS: JSON.stringify([
        { name: 'bench-producer', role: 'producer', owner_services: [OWNER_SERVICE], token: BENCH_TOKENS.producer },
        { name: 'bench-worker', role: 'worker', token: BENCH_TOKENS.worker },
        { name: 'bench-admin', role: 'admin', token: BENCH_TOKENS.admin },
      ]),
    },
  });
  return {
    url: service.url,
    pid: service.pid,
    rssBytes: () => readRss(service.pid),
    rssBreakdown: () => rssBreakdown(service.pid),
    stop: service.stop,
  };
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
