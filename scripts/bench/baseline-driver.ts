// The baseline: the same dual-store work done in-process with pg and the pg-boss
// API, each state change one transaction on one pooled client:
//   create   = INSERT jobs row + boss.send (or boss.insert for a batch)
//   claim    = boss.fetch + UPDATE jobs / INSERT job_attempts
//   complete = boss.complete (fenced {id, retryCount}, whole claim at once) + UPDATE jobs / job_attempts
// It runs against its own database with the same migrations, so the jobs triggers
// (counters, NOTIFY) cost the baseline what they cost the service.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { uuidv7 } from '../../src/lib/ids.ts';
import { withTransaction } from '../../src/db/pool.ts';
import { BACKSTOP_EXPIRE_SECONDS, bossDb } from '../../src/pgboss/boss.ts';
import type { ClaimedJob, Driver, QueueRef } from './driver.ts';
import { INPUT, OWNER_SERVICE, queueName } from './driver.ts';
import { sleep } from './load.ts';

const MAX_ATTEMPTS = 3;
const LEASE_SECONDS = 300;
const WAKE_TIMEOUT_MS = 10_000;
const WAKE_IDLE_MS = 50;

const INSERT_JOBS = `
INSERT INTO jobs (id, owner_service, owner_ref, task_type, model_profile, status, priority, input, max_attempts, request_hash, run_after)
SELECT id, owner_service, owner_ref, task_type, model_profile, 'pending', 0, input, ${MAX_ATTEMPTS}, request_hash, now()
FROM json_to_recordset($1::json) AS x (id uuid, owner_service text, owner_ref text, task_type text, model_profile text, input jsonb, request_hash text)`;

const CLAIM_JOBS = `
WITH claimed AS (
  UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = $2::text, lease_token = gen_random_uuid(),
    lease_seconds = ${LEASE_SECONDS}, lease_expires_at = now() + interval '${LEASE_SECONDS} seconds', started_at = now(), updated_at = now()
  WHERE id = ANY($1::uuid[]) AND status = 'pending'
  RETURNING id, attempts, worker_id, lease_token, lease_expires_at
)
INSERT INTO job_attempts (job_id, attempt, worker_id, lease_token, lease_expires_at)
SELECT id, attempts, worker_id, lease_token, lease_expires_at FROM claimed
RETURNING job_id, lease_token`;

// Fenced on the lease token in jobs too, as the service's complete is.
const COMPLETE_JOBS = `
WITH j AS (
  UPDATE jobs SET status = 'completed', result = $3::jsonb, error = NULL, finished_at = now(), updated_at = now(),
    lease_expires_at = NULL
  FROM unnest($1::uuid[], $2::uuid[]) AS x (id, token)
  WHERE jobs.id = x.id AND jobs.status = 'running' AND jobs.lease_token = x.token AND jobs.lease_expires_at > now()
  RETURNING jobs.id, jobs.lease_token
)
UPDATE job_attempts t SET finished_at = now(), outcome = 'completed' FROM j WHERE t.job_id = j.id AND t.lease_token = j.lease_token`;

export class BaselineDriver implements Driver {
  readonly label = 'baseline' as const;
  private readonly pool: pg.Pool;
  private readonly boss: PgBoss;
  private readonly queues = new Set<string>();
  private readonly woken = new Map<string, () => void>();
  private refs = 0;

  private constructor(pool: pg.Pool, boss: PgBoss) {
    this.pool = pool;
    this.boss = boss;
  }

  /** A pool like the service's (same size) and a pg-boss instance that only serves API calls. */
  static async start(url: string, poolSize: number): Promise<BaselineDriver> {
    const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'bench-baseline' });
    pool.on('error', () => {}); // an idle client dropped at shutdown; the next checkout reconnects
    const boss = new PgBoss({
      connectionString: url,
      max: 3,
      migrate: false,
      supervise: false,
      schedule: false,
      useListenNotify: true,
    } as any);
    boss.on('error', (err: Error) => console.error('pg-boss error:', err.message));
    await boss.start();
    return new BaselineDriver(pool, boss);
  }

  /** Creates the queue as the service's QueueRegistry does (plus notify, for wake-ups). */
  async ensureQueue(q: QueueRef): Promise<string> {
    const name = queueName(q);
    if (this.queues.has(name)) return name;
    await this.boss.createQueue(name, {
      expireInSeconds: BACKSTOP_EXPIRE_SECONDS,
      retentionSeconds: 2_000_000_000,
      deleteAfterSeconds: 0,
      retryLimit: 0,
      notify: true,
    } as any);
    this.queues.add(name);
    return name;
  }

  /** One transaction on our pool, with pg-boss joining it through its `db` option. */
  private tx<T>(fn: (db: ReturnType<typeof bossDb>, c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, (c) => fn(bossDb(c), c));
  }

  private newJobs(q: QueueRef, n: number) {
    return Array.from({ length: n }, () => {
      const owner_ref = `bench-${++this.refs}`;
      const body = { owner_service: OWNER_SERVICE, owner_ref, ...q, input: INPUT };
      const request_hash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      return { id: uuidv7(), ...body, request_hash };
    });
  }

  async create(q: QueueRef): Promise<void> {
    const name = await this.ensureQueue(q);
    const [job] = this.newJobs(q, 1);
    await this.tx(async (db, c) => {
      await c.query(INSERT_JOBS, [JSON.stringify([job])]);
      const data = { owner_service: job.owner_service, owner_ref: job.owner_ref };
      const id = await this.boss.send(name, data, { id: job.id, retryLimit: MAX_ATTEMPTS - 1, db } as any);
      if (id !== job.id) throw new Error('pg-boss send did not insert the job');
    });
  }

  async createBatch(q: QueueRef, n: number): Promise<void> {
    const name = await this.ensureQueue(q);
    const jobs = this.newJobs(q, n);
    await this.tx(async (db, c) => {
      await c.query(INSERT_JOBS, [JSON.stringify(jobs)]);
      const rows = jobs.map((j) => ({
        id: j.id,
        data: { owner_service: j.owner_service, owner_ref: j.owner_ref },
        retryLimit: MAX_ATTEMPTS - 1,
      }));
      await this.boss.insert(name, rows, { db } as any);
    });
  }

  async claim(queues: QueueRef[], limit: number, turn: number): Promise<ClaimedJob[]> {
    const name = await this.ensureQueue(queues[turn % queues.length]);
    return this.tx(async (db, c) => {
      const jobs = await this.boss.fetch(name, { batchSize: limit, db } as any);
      if (!jobs.length) return [];
      const { rows } = await c.query(CLAIM_JOBS, [jobs.map((j) => j.id), `bench-${turn % 64}`]);
      const tokens = new Map(rows.map((r) => [r.job_id, r.lease_token]));
      return jobs.map((j: any) => ({ id: j.id, queue: name, token: tokens.get(j.id), attempt: j.retryCount + 1 }));
    });
  }

  async complete(jobs: ClaimedJob[]): Promise<void> {
    if (!jobs.length) return;
    const attempts = jobs.map((j) => ({ id: j.id, retryCount: j.attempt - 1 }));
    await this.tx(async (db, c) => {
      const r = (await this.boss.complete(jobs[0].queue, attempts, null, { db } as any)) as { affected: number };
      if (r.affected !== jobs.length) throw new Error(`pg-boss completed ${r.affected} of ${jobs.length}`);
      const ids = jobs.map((j) => j.id);
      const { rowCount } = await c.query(COMPLETE_JOBS, [ids, jobs.map((j) => j.token), JSON.stringify({ ok: true })]);
      if (rowCount !== jobs.length) throw new Error(`completed ${rowCount} of ${jobs.length} jobs rows`);
    });
  }

  /** Registers a pg-boss worker (woken by its LISTEN/NOTIFY) that reports each job it receives. */
  async startWakeWorker(q: QueueRef): Promise<void> {
    const name = await this.ensureQueue(q);
    await this.boss.work(name, { pollingIntervalSeconds: 2 } as any, async (jobs: any[]) => {
      for (const j of jobs) this.woken.get(j.id)?.();
    });
  }

  async wakeup(q: QueueRef): Promise<number> {
    const name = await this.ensureQueue(q);
    const [job] = this.newJobs(q, 1);
    let timer: NodeJS.Timeout | undefined;
    const received = new Promise<void>((resolve, reject) => {
      this.woken.set(job.id, resolve);
      timer = setTimeout(() => reject(new Error('pg-boss worker did not receive the job')), WAKE_TIMEOUT_MS);
    });
    await sleep(WAKE_IDLE_MS); // the worker is idle, as the service's claimer is parked
    const t0 = performance.now();
    await this.tx(async (db, c) => {
      await c.query(INSERT_JOBS, [JSON.stringify([job])]);
      await this.boss.send(name, { owner_ref: job.owner_ref }, { id: job.id, db } as any);
    });
    await received.finally(() => clearTimeout(timer));
    this.woken.delete(job.id);
    return performance.now() - t0;
  }

  async close(): Promise<void> {
    await this.boss.stop({ graceful: false, wait: true } as any).catch(() => {});
    await this.pool.end();
  }
}
