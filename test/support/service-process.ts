// The service as a real child process (`node src/main.ts`) on a free loopback
// port, resolved once GET /readyz answers 200. Used where a test must kill or
// restart a replica, and by the benchmark, which measures the service as deployed.
// The environment is explicit (PATH and HOME only from the caller), so nothing in
// the caller's shell changes the service's config.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/dev/embedded.ts';
import { waitUntil } from './wait.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 50;
const STOP_TIMEOUT_MS = 15_000;

export interface ServiceProcessOptions {
  databaseUrl: string;
  env?: Record<string, string>;
  /** Node flags before the script (e.g. `--max-semi-space-size=16`, `--import <file>`). */
  nodeArgs?: string[];
  /** 'capture' keeps stdout/stderr lines in `output`; 'inherit' writes them to ours. */
  output?: 'capture' | 'inherit';
  /** 'pipe' keeps the child's stdin open as long as this process lives. */
  stdin?: 'ignore' | 'pipe';
}

export interface ServiceProcess {
  url: string;
  pid: number;
  proc: ChildProcess;
  /** Captured output lines (empty with output: 'inherit'). */
  output: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves once the process has exited. */
  stop(): Promise<void>;
}

export async function startServiceProcess(o: ServiceProcessOptions): Promise<ServiceProcess> {
  // A restarted replica passes its old HTTP_PORT, so a balancer's backend list stays valid.
  const port = o.env?.HTTP_PORT ? Number(o.env.HTTP_PORT) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      ...o.env,
      DATABASE_URL: o.databaseUrl,
    },
    stdio: [o.stdin ?? 'ignore', o.output === 'inherit' ? 'inherit' : 'pipe', o.output === 'inherit' ? 'inherit' : 'pipe'],
  });
  const output: string[] = [];
  proc.stdout?.on('data', (d) => output.push(...d.toString().split('\n').filter(Boolean)));
  proc.stderr?.on('data', (d) => output.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntil(
      async () => {
        if (proc.exitCode !== null) throw new Error(`the service exited with code ${proc.exitCode} during start:\n${output.join('\n')}`);
        const res = await fetch(`${url}/readyz`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: READY_POLL_MS, what: 'the service to be ready' },
    );
  } catch (err) {
    proc.kill('SIGKILL');
    await exited;
    throw err;
  }
  return { url, pid: proc.pid!, proc, output, exited, kill: (signal) => proc.kill(signal), stop };
}
