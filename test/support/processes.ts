// Helpers for tests that run the service (or a script) as a real child process:
// `node_modules/.bin/node src/main.ts` with an explicit environment, its JSON log
// lines captured, and waits driven by log lines and exit events, not sleeps.
// Every process started here is killed in cleanup(), with any embedded
// PostgreSQL left on a temp data directory, and the temp directories removed.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { processAlive, readLock, stopPid } from '../../src/dev/postmaster.ts';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const DEFAULT_WAIT_MS = 60_000;

export interface LogEntry {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

export interface Child {
  proc: ChildProcess;
  /** Every stdout line, raw. */
  lines: string[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first JSON log line (past or future) matching pred; rejects if the process exits first. */
  waitForLog(pred: (e: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  /** The service's URL, from its "ai-service listening" line. */
  url(): Promise<string>;
}

const children = new Set<Child>();
const tempDirs = new Set<string>();

function parse(line: string): LogEntry | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

export function spawnNode(script: string, env: Record<string, string>, ids: { uid?: number; gid?: number } = {}): Child {
  const proc = spawn(NODE, [script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...ids,
  });
  const lines: string[] = [];
  let err = '';
  let partial = '';
  const listeners = new Set<() => void>();
  proc.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const l of listeners) l();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });

  const waitForLog = (pred: (e: LogEntry) => boolean, timeoutMs = DEFAULT_WAIT_MS) =>
    new Promise<LogEntry>((resolve, reject) => {
      const check = () => {
        const hit = lines.map(parse).find((e) => e && pred(e));
        if (hit) finish(() => resolve(hit));
        else if (done) finish(() => reject(new Error(`process exited before the expected log line:\n${tail()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no matching log line in ${timeoutMs} ms:\n${tail()}`))), timeoutMs);
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        fn();
      };
      listeners.add(check);
      check();
    });
  const tail = () => `${lines.slice(-10).join('\n')}\n${err.slice(-2000)}`;
  const child: Child = {
    proc,
    lines,
    stderr: () => err,
    exited,
    waitForLog,
    url: async () => String((await waitForLog((e) => e.msg === 'ai-service listening')).url),
  };
  children.add(child);
  return child;
}

/** The service with an explicit env; binds 127.0.0.1 on a free port unless told otherwise. */
export function spawnService(env: Record<string, string>, ids: { uid?: number; gid?: number } = {}): Child {
  return spawnNode('src/main.ts', { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ...env }, ids);
}

/** Asserts GET /readyz is 200, showing the problem otherwise. */
export async function expectReady(url: string): Promise<void> {
  const res = await supertest(url).get('/readyz');
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
}

/** A temp directory, world-traversable: under root the embedded server runs as the postgres user. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `ai-service-${prefix}-`));
  await chmod(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

/** The pid of the postgres server running on dataDir, or undefined. */
export async function postgresPid(dataDir: string): Promise<number | undefined> {
  const lock = await readLock(dataDir);
  return lock && processAlive(lock.pid) ? lock.pid : undefined;
}

export async function cleanup(): Promise<void> {
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await c.exited;
  }
  children.clear();
  for (const dir of tempDirs) {
    for (const pgDir of [path.join(dir, 'postgres'), path.join(dir, 'pg')]) {
      const pid = await postgresPid(pgDir);
      if (pid) await stopPid(pid, 10_000);
    }
    await rm(dir, { recursive: true, force: true });
  }
  tempDirs.clear();
}
