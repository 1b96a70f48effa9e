// setup(): a running service on 127.0.0.1 (random port) over a fresh database,
// with response validation on, plus call helpers that assert the status.
import { Writable } from 'node:stream';
import pg from 'pg';
import type { Logger } from 'pino';
import supertest from 'supertest';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { type RunningService, startService } from '../../src/server.ts';
import { createTestDatabase } from './database.ts';

export interface TestService {
  service: RunningService;
  url: string;
  databaseUrl: string;
  api: supertest.Agent;
  /** Raw SQL against the same database (for asserting on both stores). */
  sql: pg.Pool;
  logs: string[];
  logger: Logger;
  /** Stops the service and the pool; safe to call again (returns the same promise). */
  close(): Promise<void>;
}

export type Client = ReturnType<typeof client>;

/**
 * One service for the enclosing describe: registers its before/after hooks and
 * returns `t` and `api`, which that before hook fills in (they are empty until then).
 */
export function useService(env: Record<string, string> = {}): { t: TestService; api: Client } {
  const t = {} as TestService;
  const api = {} as Client;
  before(async () => {
    Object.assign(t, await setup(env));
    Object.assign(api, client(t.api));
  });
  after(() => t.close?.());
  return { t, api };
}

/** Log lines captured in memory, so tests can assert on them (e.g. no secrets). */
export function captureLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

export async function setup(env: Record<string, string> = {}, databaseUrl?: string): Promise<TestService> {
  const dbUrl = databaseUrl ?? (await createTestDatabase());
  const config = loadConfig({
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    REAPER_INTERVAL: '200ms',
    LONG_POLL_RECHECK: '1s',
    // Tests close services right after their last request; the default quiet period would add a second to each.
    SHUTDOWN_QUIET: '50ms',
    RETRY_BACKOFF_BASE: '50ms',
    RETRY_BACKOFF_MAX: '200ms',
    ...env,
    DATABASE_URL: dbUrl,
  });
  const { logger, lines } = captureLogger();
  const service = await startService(config, logger, { validateResponses: true });
  const sql = new pg.Pool({ connectionString: dbUrl, max: 4 });
  // One shared promise: a test may stop the service itself, and the suite's after hook closes it again.
  let closing: Promise<void> | undefined;
  return {
    service,
    url: service.url,
    databaseUrl: dbUrl,
    api: supertest.agent(service.url),
    sql,
    logs: lines,
    logger,
    close() {
      closing ??= sql.end().then(() => service.close());
      return closing;
    },
  };
}

let refCounter = 0;
/** A valid create body; override any field. */
export function jobBody(overrides: Record<string, unknown> = {}) {
  return {
    owner_service: 'telephony',
    owner_ref: `beeline/call-${++refCounter}`,
    task_type: 'call_analysis',
    model_profile: 'qwen2.5-14b',
    input: { prompt: 'Summarise the call.' },
    ...overrides,
  };
}

/** Call helpers: each asserts the expected status and returns the body. */
export function client(api: supertest.Agent) {
  const call = async (req: supertest.Test, status: number) => {
    const res = await req;
    expect(res.status, `${res.status} ${JSON.stringify(res.body)}`).to.equal(status);
    return res.body;
  };
  return {
    create: (body: object, status = 201) => call(api.post('/api/v1/jobs').send(body), status),
    batch: (body: object, status = 201) => call(api.post('/api/v1/jobs/batch').send(body), status),
    claim: (body: object, status = 200) => call(api.post('/api/v1/jobs/claim').send(body), status),
    get: (id: string, status = 200) => call(api.get(`/api/v1/jobs/${id}`), status),
    list: (query: Record<string, string | number>, status = 200) => call(api.get('/api/v1/jobs').query(query), status),
    heartbeat: (id: string, body: object, status = 200) => call(api.post(`/api/v1/jobs/${id}/heartbeat`).send(body), status),
    complete: (id: string, body: object, status = 200) => call(api.post(`/api/v1/jobs/${id}/complete`).send(body), status),
    fail: (id: string, body: object, status = 200) => call(api.post(`/api/v1/jobs/${id}/fail`).send(body), status),
    retry: (id: string, body: object = {}, status = 200) => call(api.post(`/api/v1/jobs/${id}/retry`).send(body), status),
    cancel: (id: string, status = 200) => call(api.post(`/api/v1/jobs/${id}/cancel`), status),
    stats: (status = 200) => call(api.get('/api/v1/stats'), status),
  };
}
