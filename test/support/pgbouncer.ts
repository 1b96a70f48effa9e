// Debian's PgBouncer (/usr/sbin/pgbouncer; `.ci/run` installs it) in transaction
// mode on 127.0.0.1, in front of a PostgreSQL URL, with the URL's user and
// password. Under root it runs as the postgres user (it refuses root).
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/embedded.ts';
import { waitUntil } from './wait.ts';

const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  /** `target` with host and port replaced by the pooler's. */
  url(target: string): string;
  stop(): Promise<void>;
}

export async function startPgBouncer(target: string, poolSize = 10): Promise<PgBouncer> {
  const t = new URL(target);
  const dir = await mkdtemp(path.join(tmpdir(), 'ai-service-pgbouncer-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  await writeFile(path.join(dir, 'users.txt'), `"${decodeURIComponent(t.username)}" "${decodeURIComponent(t.password)}"\n`, {
    mode: 0o644,
  });
  await writeFile(
    ini,
    [
      '[databases]',
      `* = host=${t.hostname} port=${t.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = plain',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      `default_pool_size = ${poolSize}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const args = userInfo().uid === 0 ? ['-u', 'postgres', ini] : [ini];
  const proc: ChildProcess = spawn(PGBOUNCER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => {
    log += d;
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitUntil(
    async () => {
      if (proc.exitCode !== null) throw new Error(`pgbouncer exited: ${log}`);
      return new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
    },
    { what: 'pgbouncer listening' },
  );
  return {
    url(raw: string) {
      const u = new URL(raw);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.href;
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGINT');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
