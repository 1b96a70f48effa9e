// The ai-service API as one method per operation a producer or worker calls.
// The HTTP layer is openapi-fetch typed by api-types.ts (generated from
// openapi.yaml), so paths, bodies and answers are checked against the spec at
// compile time; each method returns the success body or throws ApiError.
import createFetchClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from './api-types.js';
import { ApiError } from './errors.js';

type Schemas = components['schemas'];
export type Job = Schemas['Job'];
export type ClaimedJob = Schemas['ClaimedJob'];
export type JobCreate = Schemas['JobCreate'];
export type JobBatchCreate = Schemas['JobBatchCreate'];
export type ClaimRequest = Schemas['ClaimRequest'];
export type HeartbeatRequest = Schemas['HeartbeatRequest'];
export type ProgressRequest = Schemas['ProgressRequest'];
export type CompleteRequest = Schemas['CompleteRequest'];
export type FailRequest = Schemas['FailRequest'];
export type RetryRequest = Schemas['RetryRequest'];
export type JobListQuery = NonNullable<operations['listJobs']['parameters']['query']>;

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
/** The JSON body an operation answers with on success (200 or 201). */
export type Success<K extends keyof operations> = operations[K]['responses'] extends infer R
  ? (R extends { 200: infer A } ? JsonOf<A> : never) | (R extends { 201: infer B } ? JsonOf<B> : never)
  : never;
export type JobBatchCreated = Success<'createJobBatch'>;
export type JobPage = Success<'listJobs'>;
export type Claimed = Success<'claimJobs'>;
export type Heartbeat = Success<'heartbeatJob'>;

export interface ClientOptions {
  /** Base URL of the service, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** Bearer token, when the service has authentication on. */
  token?: string;
  /** Deadline per request in ms (default 30 s); a long-poll claim adds its wait_seconds. */
  timeoutMs?: number;
  /** A fetch implementation (default: the global fetch). */
  fetch?: (input: Request) => Promise<Response>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30_000;

type Answer<T> = { data?: T; error?: unknown; response: Response };

export class AiServiceClient {
  /** The typed openapi-fetch client underneath, for operations not wrapped here. */
  readonly api: Client<paths>;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    this.api = createFetchClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      fetch: options.fetch,
    });
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  createJob(body: JobCreate, o?: CallOptions): Promise<Job> {
    return this.unwrap('createJob', this.api.POST('/api/v1/jobs', { body, signal: this.signal(o) }));
  }
  createJobBatch(body: JobBatchCreate, o?: CallOptions): Promise<JobBatchCreated> {
    return this.unwrap('createJobBatch', this.api.POST('/api/v1/jobs/batch', { body, signal: this.signal(o) }));
  }
  getJob(id: string, o?: CallOptions): Promise<Job> {
    return this.unwrap('getJob', this.api.GET('/api/v1/jobs/{id}', { params: { path: { id } }, signal: this.signal(o) }));
  }
  listJobs(query: JobListQuery = {}, o?: CallOptions): Promise<JobPage> {
    return this.unwrap('listJobs', this.api.GET('/api/v1/jobs', { params: { query }, signal: this.signal(o) }));
  }
  /** With wait_seconds > 0 this long-polls; the deadline is extended by the wait. */
  claimJobs(body: ClaimRequest, o?: CallOptions): Promise<Claimed> {
    const signal = this.signal(o, (body.wait_seconds ?? 0) * 1000);
    return this.unwrap('claimJobs', this.api.POST('/api/v1/jobs/claim', { body, signal }));
  }
  heartbeatJob(id: string, body: HeartbeatRequest, o?: CallOptions): Promise<Heartbeat> {
    const params = { path: { id } };
    return this.unwrap('heartbeatJob', this.api.POST('/api/v1/jobs/{id}/heartbeat', { params, body, signal: this.signal(o) }));
  }
  /** Progress on a held lease (`fraction`, `message`, `output`); the service stores at most 2 per second per job. */
  reportProgress(id: string, body: ProgressRequest, o?: CallOptions): Promise<{ id: string; stored: boolean }> {
    const params = { path: { id } };
    return this.unwrap('reportProgress', this.api.POST('/api/v1/jobs/{id}/progress', { params, body, signal: this.signal(o) }));
  }
  completeJob(id: string, body: CompleteRequest, o?: CallOptions): Promise<Job> {
    const params = { path: { id } };
    return this.unwrap('completeJob', this.api.POST('/api/v1/jobs/{id}/complete', { params, body, signal: this.signal(o) }));
  }
  failJob(id: string, body: FailRequest, o?: CallOptions): Promise<Job> {
    const params = { path: { id } };
    return this.unwrap('failJob', this.api.POST('/api/v1/jobs/{id}/fail', { params, body, signal: this.signal(o) }));
  }
  retryJob(id: string, body: RetryRequest = {}, o?: CallOptions): Promise<Job> {
    const params = { path: { id } };
    return this.unwrap('retryJob', this.api.POST('/api/v1/jobs/{id}/retry', { params, body, signal: this.signal(o) }));
  }
  cancelJob(id: string, o?: CallOptions): Promise<Job> {
    return this.unwrap('cancelJob', this.api.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id } }, signal: this.signal(o) }));
  }

  private signal(o: CallOptions | undefined, extraMs = 0): AbortSignal {
    const deadline = AbortSignal.timeout(this.timeoutMs + extraMs);
    return o?.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  }

  private async unwrap<T>(operation: string, call: Promise<Answer<T>>): Promise<T> {
    const { data, error, response } = await call;
    if (!response.ok || data === undefined) throw new ApiError(response.status, error, operation);
    return data;
  }
}

export function createClient(options: ClientOptions): AiServiceClient {
  return new AiServiceClient(options);
}
