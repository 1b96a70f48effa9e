// Helpers for the worker's end-to-end tests: the worker as a real child process
// (its pino lines captured), stand-in providers as real HTTP servers on
// 127.0.0.1, and waiting on conditions with a deadline instead of sleeping.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { AiServiceClient, Job } from '../../src/client/index.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');

export { waitFor };

/** Polls the job until it is completed or failed. */
export function finished(api: AiServiceClient, id: string, timeoutMs = 10_000): Promise<Job> {
  return waitFor(
    `job ${id} to finish`,
    async () => {
      const job = await api.getJob(id);
      return job.status === 'completed' || job.status === 'failed' ? job : undefined;
    },
    timeoutMs,
  );
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface WorkerProcess {
  proc: ChildProcess;
  logs: LogLine[];
  stderr: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  waitForLog(what: string, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Stops the process (SIGKILL if it ignores SIGTERM for 10 s). */
  stop(): Promise<void>;
}

/** Starts `node src/worker/main.ts` with only the given environment (plus PATH), and waits until it runs. */
export async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const proc = spawn(NODE, ['src/worker/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', WORKER_ID: 'test-worker', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) logs.push(JSON.parse(p));
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  const w: WorkerProcess = {
    proc,
    logs,
    stderr,
    exited,
    waitForLog: (what, pred, timeoutMs = 10_000) => waitFor(`worker log: ${what}`, () => logs.find(pred), timeoutMs),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  await Promise.race([
    w.waitForLog('worker started', (l) => l.msg === 'worker started', 15_000),
    exited.then((code) => {
      throw new Error(`worker exited with ${code}: ${stderr.join('')}`);
    }),
  ]);
  return w;
}

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export type Handler = (req: Recorded, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

export interface StubServer {
  url: string;
  requests: Recorded[];
  /** Requests received whose response has not finished yet. */
  open: number;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 standing in for a provider; records every request. */
export async function stubServer(handler: Handler): Promise<StubServer> {
  const requests: Recorded[] = [];
  const stub: StubServer = { url: '', requests, open: 0, close: async () => {} };
  const server = http.createServer(async (raw, res) => {
    const chunks: Buffer[] = [];
    for await (const c of raw) chunks.push(c as Buffer);
    const rec = { method: raw.method ?? '', url: raw.url ?? '', headers: raw.headers, body: Buffer.concat(chunks), at: Date.now() };
    requests.push(rec);
    stub.open++;
    res.on('close', () => stub.open--);
    try {
      await handler(rec, res, raw);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return stub;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** A port nothing listens on (bound, read, released). */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** An OpenAI chat.completion reply as vLLM sends it. */
export function completion(content: string, model = 'qwen2.5-14b') {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
  };
}
