// A PostgreSQL primary with a synchronous streaming standby, both from the
// embedded server's binaries, on loopback ports in a temp directory. The standby
// is a copy of the primary's cleanly stopped data directory with standby.signal
// and primary_conninfo (the embedded package ships no pg_basebackup); the primary
// names it in synchronous_standby_names, so a COMMIT returns only once the
// standby has flushed its WAL: every commit a client saw survives a failover.
//
// crashPrimary() is a host dying: SIGKILL to the postmaster's whole process group
// (it runs detached, so its backends are in that group), no shutdown checkpoint,
// every connection reset. promote() turns the standby into the new primary.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFile, chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, postgresBinary, startEmbeddedPostgres } from '../../src/dev/embedded.ts';
import { postgresUserIds, readLock } from '../../src/dev/postmaster.ts';
import { migrateDatabase } from './postgres.ts';
import { waitUntil } from './wait.ts';

const exec = promisify(execFile);
const STANDBY_NAME = 'standby1';
const START_TIMEOUT_MS = 60_000;

export interface ReplicatedPostgres {
  primary: { url: string; port: number };
  standby: { url: string; port: number };
  /** SIGKILL to the primary's postmaster and all its backends. */
  crashPrimary(): Promise<void>;
  /** pg_promote() on the standby; resolves once it accepts writes. */
  promote(): Promise<void>;
  /** Stops both servers and removes the directory; safe to call twice. */
  destroy(): Promise<void>;
}

/** The URL of the same server and credentials on another port. */
function onPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

async function query<T = any>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.query(text)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Starts postgres on a data directory that is a standby: its lock file says "standby", never "ready". */
async function spawnStandby(dir: string, port: number): Promise<ChildProcess> {
  const [bin, ids] = await Promise.all([postgresBinary(), userInfo().uid === 0 ? postgresUserIds() : {}]);
  const flags = ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  const child = spawn(bin, [...flags, '-c', 'max_connections=300'], { detached: true, stdio: 'ignore', ...ids });
  child.unref();
  return child;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export async function startReplicatedPostgres(): Promise<ReplicatedPostgres> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ai-service-failover-'));
  await chmod(dir, 0o755); // reachable by the postgres user the servers run as under root
  const primaryDir = path.join(dir, 'primary');
  const standbyDir = path.join(dir, 'standby');
  let standbyProc: ChildProcess | undefined;
  let primaryPid: number | undefined;
  let destroyed: Promise<void> | undefined;
  const destroy = () => {
    destroyed ??= (async () => {
      killGroup(primaryPid, 'SIGKILL');
      killGroup(standbyProc?.pid, 'SIGKILL');
      await waitUntil(async () => !(await readLock(standbyDir).catch(() => undefined)) || standbyProc?.exitCode !== null, {
        timeoutMs: 10_000,
        what: 'the standby to stop',
      }).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    })();
    return destroyed;
  };
  try {
    // 1. A primary with both schemas, stopped cleanly: its data directory is a consistent copy.
    const first = await startEmbeddedPostgres(primaryDir);
    const url = first.url;
    await migrateDatabase(url);
    await first.stop();

    // 2. The standby: the copy, told where its primary is.
    const [primaryPort, standbyPort] = [first.port, await freePort()];
    await exec('cp', ['-a', primaryDir, standbyDir]);
    const conninfo = `host=127.0.0.1 port=${primaryPort} user=${new URL(url).username} password=${decodeURIComponent(new URL(url).password)} application_name=${STANDBY_NAME}`;
    await appendFile(path.join(standbyDir, 'postgresql.auto.conf'), `primary_conninfo = '${conninfo}'\n`);
    await writeFile(path.join(standbyDir, 'standby.signal'), '');
    if (userInfo().uid === 0) {
      const { uid, gid } = await postgresUserIds();
      await chown(path.join(standbyDir, 'standby.signal'), uid, gid);
    }
    // Only the primary waits for the standby: the promoted standby must not wait for a standby it lacks.
    await appendFile(path.join(primaryDir, 'postgresql.auto.conf'), `synchronous_standby_names = '${STANDBY_NAME}'\n`);

    // 3. Both running, the standby streaming synchronously.
    const primary = await startEmbeddedPostgres(primaryDir, { port: primaryPort });
    primaryPid = (await readLock(primaryDir))?.pid;
    standbyProc = await spawnStandby(standbyDir, standbyPort);
    const standbyUrl = onPort(url, standbyPort);
    await waitUntil(
      async () => {
        const rows = await query(url, `SELECT sync_state FROM pg_stat_replication WHERE application_name = '${STANDBY_NAME}'`);
        return rows[0]?.sync_state === 'sync';
      },
      { timeoutMs: START_TIMEOUT_MS, what: 'the standby to stream synchronously' },
    );
    return {
      primary: { url, port: primaryPort },
      standby: { url: standbyUrl, port: standbyPort },
      async crashPrimary() {
        killGroup(primaryPid, 'SIGKILL');
        await waitUntil(
          async () =>
            await query(url, 'SELECT 1').then(
              () => false,
              () => true,
            ),
          {
            timeoutMs: 10_000,
            what: 'the primary to be gone',
          },
        );
        // Drops the embedded server's exit guard, which would signal a pid that is no longer ours.
        await primary.stop();
      },
      async promote() {
        await query(standbyUrl, 'SELECT pg_promote(wait => true)');
        await waitUntil(async () => (await query(standbyUrl, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === false, {
          what: 'the standby to be promoted',
        });
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
