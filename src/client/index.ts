// A small typed client for the ai-service HTTP API, for producers and workers
// written in TypeScript inside this repository (the reference worker uses it;
// callers elsewhere install the package in src/clients/typescript). Types come
// from that package's api-types.ts, generated from openapi.yaml (`npm run
// generate:client`); a test fails when that file is stale, so these signatures
// cannot drift from the spec.
//
// Non-2xx answers throw ApiError carrying the problem+json body; transport
// failures (connection refused, timeouts) are thrown as they come from undici,
// so a caller can tell "the service said no" from "the service is not there".
import { type Dispatcher, request } from 'undici';
import type { components, operations } from '../clients/typescript/src/api-types.ts';

export type { components, operations, paths } from '../clients/typescript/src/api-types.ts';

type Schemas = components['schemas'];
export type Job = Schemas['Job'];
export type ClaimedJob = Schemas['ClaimedJob'];
export type JobCreate = Schemas['JobCreate'];
export type JobError = Schemas['JobError'];
export type Problem = Schemas['Problem'];
export type Stats = Schemas['Stats'];

type Json<R> = R extends { content: { 'application/json': infer T } } ? T : never;
/** The JSON body an operation answers with on success (200 or 201). */
export type Success<K extends keyof operations> = operations[K]['responses'] extends infer R
  ?
      | (R extends { 200: infer A } ? Json<A> : never)
      | (R extends { 201: infer B } ? Json<B> : never)
      | (R extends { 202: infer C } ? Json<C> : never)
  : never;
/** The JSON request body of an operation. */
export type Body<K extends keyof operations> = operations[K] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;
export type Query<K extends keyof operations> = NonNullable<operations[K]['parameters']['query']>;

export interface ClientOptions {
  /** Base URL of the service, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** Bearer token, when the service has authentication on. */
  token?: string;
  /** Per-request deadline in ms; a long-poll claim adds its wait_seconds. */
  timeoutMs?: number;
  /** An undici dispatcher (connection pool, proxy, mock). */
  dispatcher?: Dispatcher;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** W3C trace context sent as the `traceparent` header (a claimed job's, or a span of it). */
  traceparent?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The service answered with a non-2xx status. */
export class ApiError extends Error {
  readonly status: number;
  /** The problem's stable `code` (e.g. lease_lost), or `http_<status>` if the body was not a problem. */
  readonly code: string;
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined, operation: string) {
    super(`${operation}: ${status} ${problem?.code ?? ''} ${problem?.detail ?? problem?.title ?? ''}`.trim());
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.code = problem?.code ?? `http_${status}`;
  }
}

interface Call {
  op: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  text?: boolean;
  extraMs?: number;
  signal?: AbortSignal;
  traceparent?: string;
}

export class AiServiceClient {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher | undefined;

  constructor(options: ClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.dispatcher = options.dispatcher;
  }

  getHealth(o?: CallOptions): Promise<Success<'getHealth'>> {
    return this.call({ op: 'getHealth', method: 'GET', path: '/healthz', ...o });
  }
  getReadiness(o?: CallOptions): Promise<Success<'getReadiness'>> {
    return this.call({ op: 'getReadiness', method: 'GET', path: '/readyz', ...o });
  }
  getOpenApi(o?: CallOptions): Promise<string> {
    return this.call({ op: 'getOpenApi', method: 'GET', path: '/openapi.yaml', text: true, ...o });
  }
  createJob(body: Body<'createJob'>, o?: CallOptions): Promise<Job> {
    return this.call({ op: 'createJob', method: 'POST', path: '/api/v1/jobs', body, ...o });
  }
  createJobBatch(body: Body<'createJobBatch'>, o?: CallOptions): Promise<Success<'createJobBatch'>> {
    return this.call({ op: 'createJobBatch', method: 'POST', path: '/api/v1/jobs/batch', body, ...o });
  }
  listJobs(query: Query<'listJobs'> = {}, o?: CallOptions): Promise<Success<'listJobs'>> {
    return this.call({ op: 'listJobs', method: 'GET', path: '/api/v1/jobs', query, ...o });
  }
  getJob(id: string, o?: CallOptions): Promise<Job> {
    return this.call({ op: 'getJob', method: 'GET', path: `/api/v1/jobs/${enc(id)}`, ...o });
  }
  /** With wait_seconds > 0 this long-polls; the request deadline is extended by the wait. */
  claimJobs(body: Body<'claimJobs'>, o?: CallOptions): Promise<Success<'claimJobs'>> {
    const extraMs = (body.wait_seconds ?? 0) * 1000;
    return this.call({ op: 'claimJobs', method: 'POST', path: '/api/v1/jobs/claim', body, extraMs, ...o });
  }
  heartbeatJob(id: string, body: Body<'heartbeatJob'>, o?: CallOptions): Promise<Success<'heartbeatJob'>> {
    return this.call({ op: 'heartbeatJob', method: 'POST', path: `/api/v1/jobs/${enc(id)}/heartbeat`, body, ...o });
  }
  /** Progress on a held lease; the service stores at most 2 per second per job (the latest wins). */
  reportProgress(id: string, body: Body<'reportProgress'>, o?: CallOptions): Promise<Success<'reportProgress'>> {
    return this.call({ op: 'reportProgress', method: 'POST', path: `/api/v1/jobs/${enc(id)}/progress`, body, ...o });
  }
  completeJob(id: string, body: Body<'completeJob'>, o?: CallOptions): Promise<Job> {
    return this.call({ op: 'completeJob', method: 'POST', path: `/api/v1/jobs/${enc(id)}/complete`, body, ...o });
  }
  failJob(id: string, body: Body<'failJob'>, o?: CallOptions): Promise<Job> {
    return this.call({ op: 'failJob', method: 'POST', path: `/api/v1/jobs/${enc(id)}/fail`, body, ...o });
  }
  retryJob(id: string, body: Body<'retryJob'> = {}, o?: CallOptions): Promise<Job> {
    return this.call({ op: 'retryJob', method: 'POST', path: `/api/v1/jobs/${enc(id)}/retry`, body, ...o });
  }
  cancelJob(id: string, o?: CallOptions): Promise<Job> {
    return this.call({ op: 'cancelJob', method: 'POST', path: `/api/v1/jobs/${enc(id)}/cancel`, ...o });
  }
  getStats(o?: CallOptions): Promise<Stats> {
    return this.call({ op: 'getStats', method: 'GET', path: '/api/v1/stats', ...o });
  }
  getProviderStatus(o?: CallOptions): Promise<Success<'getProviderStatus'>> {
    return this.call({ op: 'getProviderStatus', method: 'GET', path: '/api/v1/providers/status', ...o });
  }
  getMetrics(o?: CallOptions): Promise<string> {
    return this.call({ op: 'getMetrics', method: 'GET', path: '/metrics', text: true, ...o });
  }

  private async call<T>(c: Call): Promise<T> {
    const deadline = AbortSignal.timeout(this.timeoutMs + (c.extraMs ?? 0));
    const res = await request(this.base + c.path + queryString(c.query), {
      method: c.method,
      headers: {
        ...this.headers,
        accept: c.text ? '*/*' : 'application/json',
        ...(c.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(c.traceparent ? { traceparent: c.traceparent } : {}),
      },
      body: c.body === undefined ? undefined : JSON.stringify(c.body),
      signal: c.signal ? AbortSignal.any([c.signal, deadline]) : deadline,
      dispatcher: this.dispatcher,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new ApiError(res.statusCode, parseProblem(text), c.op);
    return (c.text ? text : JSON.parse(text)) as T;
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

function queryString(q: Call['query']): string {
  if (!q) return '';
  const pairs = Object.entries(q).filter((e): e is [string, string | number] => e[1] !== undefined);
  return pairs.length ? `?${new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, String(v)]))}` : '';
}

function parseProblem(text: string): Problem | undefined {
  try {
    const p = JSON.parse(text);
    return p && typeof p === 'object' && typeof p.code === 'string' ? (p as Problem) : undefined;
  } catch {
    return undefined;
  }
}

export function createClient(options: ClientOptions): AiServiceClient {
  return new AiServiceClient(options);
}
