// The service, driven over real HTTP on 127.0.0.1 with an undici Pool holding a
// fixed number of keep-alive connections (the concurrency of the scenario). Any
// unexpected status aborts the run: a bench never counts errors as work.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { ClaimedJob, Driver, QueueRef } from './driver.ts';
import { INPUT, OWNER_SERVICE } from './driver.ts';
import { BENCH_TOKENS } from './env.ts';
import { sleep } from './load.ts';

/** How long the claimer is given to park before the job is created (it needs ~1 ms). */
const WAKE_PARK_MS = 50;
const WAKE_WAIT_SECONDS = 10;
const LEASE_SECONDS = 300;
const header = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const AS = { producer: header(BENCH_TOKENS.producer), worker: header(BENCH_TOKENS.worker), admin: header(BENCH_TOKENS.admin) };
type Caller = keyof typeof AS;

export class HttpDriver implements Driver {
  readonly label = 'service' as const;
  private readonly pool: Pool;
  private readonly bodies = new Map<string, string>();
  private refs = 0;

  constructor(url: string, connections: number) {
    this.pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  }

  private async call(as: Caller, method: 'GET' | 'POST', path: string, body: string | undefined, expect: number): Promise<any> {
    const res = await this.pool.request({ method, path, body, headers: AS[as] });
    const text = await res.body.text();
    if (res.statusCode !== expect) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  }

  // The body is built once per queue and reused: the client's cost stays out of the numbers.
  private createBody(q: QueueRef): string {
    const key = `${q.task_type}/${q.model_profile}`;
    let body = this.bodies.get(key);
    if (!body) {
      body = JSON.stringify({ owner_service: OWNER_SERVICE, owner_ref: `bench-${++this.refs}`, ...q, input: INPUT });
      this.bodies.set(key, body);
    }
    return body;
  }

  async create(q: QueueRef): Promise<void> {
    await this.call('producer', 'POST', '/api/v1/jobs', this.createBody(q), 201);
  }

  async createBatch(q: QueueRef, n: number): Promise<void> {
    const key = `batch:${q.task_type}/${q.model_profile}:${n}`;
    let body = this.bodies.get(key);
    if (!body) {
      const jobs = Array.from({ length: n }, (_, i) => ({ owner_ref: `bench-batch-${i}` }));
      body = JSON.stringify({ defaults: { owner_service: OWNER_SERVICE, ...q, input: INPUT }, jobs });
      this.bodies.set(key, body);
    }
    const res = await this.call('producer', 'POST', '/api/v1/jobs/batch', body, 201);
    if (res.jobs.length !== n) throw new Error(`batch created ${res.jobs.length} of ${n}`);
  }

  async claim(queues: QueueRef[], limit: number, turn: number, waitSeconds = 0): Promise<ClaimedJob[]> {
    const profiles = [...new Set(queues.map((q) => q.model_profile))];
    const body = JSON.stringify({
      worker_id: `bench-${turn % 64}`,
      model_profiles: profiles,
      limit,
      lease_seconds: LEASE_SECONDS,
      ...(waitSeconds ? { wait_seconds: waitSeconds } : {}),
    });
    const res = await this.call('worker', 'POST', '/api/v1/jobs/claim', body, 200);
    return res.jobs.map((j: any) => ({
      id: j.id,
      queue: `${j.task_type}/${j.model_profile}`,
      token: j.lease_token,
      attempt: j.attempt,
    }));
  }

  /**
   * A claim of one is completed with the single-job endpoint; a batch claim with
   * POST /api/v1/jobs/complete (one request, one statement), as a worker does.
   */
  async complete(jobs: ClaimedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    if (jobs.length === 1) {
      const [j] = jobs;
      await this.call(
        'worker',
        'POST',
        `/api/v1/jobs/${j.id}/complete`,
        JSON.stringify({ lease_token: j.token, result: { ok: true } }),
        200,
      );
      return;
    }
    const body = JSON.stringify({ completions: jobs.map((j) => ({ id: j.id, lease_token: j.token, result: { ok: true } })) });
    const res = await this.call('worker', 'POST', '/api/v1/jobs/complete', body, 200);
    const lost = res.results.filter((r: { outcome: string }) => r.outcome !== 'completed');
    if (lost.length) throw new Error(`batch complete: ${lost.length} of ${jobs.length} not completed`);
  }

  async stats(): Promise<void> {
    await this.call('admin', 'GET', '/api/v1/stats', undefined, 200);
  }

  async wakeup(q: QueueRef): Promise<number> {
    const claimed = this.claim([q], 1, 0, WAKE_WAIT_SECONDS);
    await sleep(WAKE_PARK_MS);
    const t0 = performance.now();
    await this.create(q);
    const jobs = await claimed;
    const ms = performance.now() - t0;
    if (jobs.length !== 1) throw new Error(`long-poll claim returned ${jobs.length} jobs`);
    await this.complete(jobs);
    return ms;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
