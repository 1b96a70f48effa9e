// Low-level helpers for the embedded PostgreSQL server: reading its lock file
// (postmaster.pid), telling a live server of ours from a stale lock left by a
// killed process or a recycled pid, and waiting for a process to go away.
// Unix only (signals, /proc or ps), like the embedded server itself.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const POLL_MS = 50;

export interface LockInfo {
  pid: number;
  port: number;
  /** "starting", "ready", "stopping" or "" (PostgreSQL writes it on line 8). */
  status: string;
}

/** The postmaster.pid lock file of a data directory, if there is one. */
export async function readLock(dataDir: string): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return { pid: 0, port: 0, status: '' };
  return { pid, port: Number.parseInt(lines[3] ?? '', 10) || 0, status: (lines[7] ?? '').trim() };
}

export function processAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user (the postgres user under root).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function commandLine(pid: number): Promise<string[]> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter(Boolean);
  } catch {
    // No /proc (macOS): ps gives the command line joined by spaces, good enough here.
    const { stdout } = await exec('ps', ['-o', 'command=', '-p', String(pid)]).catch(() => ({ stdout: '' }));
    return stdout.trim().split(/\s+/).filter(Boolean);
  }
}

/** True when pid is a postgres server running on dataDir (not a recycled pid). */
export async function isPostgresFor(pid: number, dataDir: string): Promise<boolean> {
  const argv = await commandLine(pid);
  if (!argv.length || !path.basename(argv[0]).startsWith('postgres')) return false;
  const i = argv.indexOf('-D');
  return i >= 0 && path.resolve(argv[i + 1] ?? '') === path.resolve(dataDir);
}

/** Polls until cond() is true; returns false at the deadline. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Stops a postgres server by pid: SIGINT (fast shutdown: disconnect clients,
 * checkpoint), then SIGQUIT (immediate) if it is still there after timeoutMs.
 */
export async function stopPid(pid: number, timeoutMs: number): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGINT');
  if (await waitFor(() => !processAlive(pid), timeoutMs)) return;
  signal('SIGQUIT');
  await waitFor(() => !processAlive(pid), 5000);
}

/** uid/gid of the `postgres` user, used to run the server when we are root. */
export async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const [u, g] = await Promise.all([exec('id', ['-u', 'postgres']), exec('id', ['-g', 'postgres'])]);
  return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
}

/** The last lines of the server log that explain a failure (FATAL, PANIC, ERROR). */
export async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const lines = text.split('\n').filter((l) => /FATAL|PANIC|ERROR|HINT|DETAIL/.test(l));
  return lines.slice(-4).join(' | ') || text.trim().split('\n').slice(-3).join(' | ');
}
