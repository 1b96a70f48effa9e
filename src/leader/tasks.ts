// The periodic work the leader replica runs (see leader.ts): exactly one replica
// at a time reaps leases, expires jobs past start_before, compacts the counters, purges expired
// jobs, writes queue depth for pg-boss's tools, runs pg-boss's own maintenance of the
// webhooks queue, and makes delayed jobs claimable when due.
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import { dropIdleQueues } from '../retention/idle-queues.ts';
import type { Purger } from '../retention/purge.ts';
import type { JobService } from '../jobs/service.ts';
import { reapLeases } from '../jobs/lease-reaper.ts';
import { adoptPgbossChanges } from '../jobs/adoption.ts';
import { expireOverdueJobs } from '../jobs/expiry.ts';
import { PROMOTE_INTERVAL_MS, promoteDueJobs } from '../jobs/delayed.ts';
import { rollupStats } from '../stats/store.ts';
import { QUEUE_COUNTS_INTERVAL_MS, writeQueueCounts } from '../stats/pgboss-queue-counts.ts';
import { WEBHOOK_QUEUE } from '../webhooks/store.ts';
import type { PeriodicTask } from './leader.ts';

/** pg-boss's default supervise interval. */
const PGBOSS_SUPERVISE_MS = 60_000;
const STATS_ROLLUP_MS = 1000;
const REAP_BATCH = 500;
/** pg-boss tooling's changes are adopted within about a second, 500 notes a transaction. */
const PGBOSS_ADOPTION_MS = 1000;
const ADOPTION_BATCH = 500;
/** Jobs past start_before are cancelled within about a second, 500 a statement. */
const EXPIRY_INTERVAL_MS = 1000;
const EXPIRY_BATCH = 500;

export interface MaintenanceDeps {
  config: Pick<Config, 'jobs' | 'retention'>;
  pool: Pool;
  logger: Logger;
  jobs: JobService;
  purger: Purger;
  getBoss: () => PgBoss | undefined;
  /** False once this replica lost leadership or is shutting down (long runs stop early). */
  keepGoing: () => boolean;
}

export function maintenanceTasks(d: MaintenanceDeps): PeriodicTask[] {
  return [
    {
      name: 'lease-reaper',
      intervalMs: d.config.jobs.reaperIntervalMs,
      run: () => reapLeases(d.pool, d.jobs.events, d.keepGoing, REAP_BATCH),
    },
    {
      name: 'pgboss-adoption',
      intervalMs: PGBOSS_ADOPTION_MS,
      run: async () => {
        for (;;) {
          const pass = await adoptPgbossChanges(d.pool, ADOPTION_BATCH);
          for (const a of pass.adopted)
            d.logger.info(
              { job_id: a.id, queue: a.queue, action: a.action, from: a.from_status, to: a.to_status },
              'adopted a change made through pg-boss',
            );
          for (const f of pass.foreign)
            d.logger.warn({ pgboss_id: f.id, queue: f.queue }, 'pg-boss row without the job contract in one of our queues: left alone');
          if (pass.adopted.length || pass.foreign.length) d.jobs.events.adopted(pass);
          if (pass.notes < ADOPTION_BATCH || !d.keepGoing()) break;
        }
      },
    },
    {
      name: 'start-before-expiry',
      intervalMs: EXPIRY_INTERVAL_MS,
      run: async () => {
        const n = await expireOverdueJobs(d.pool, d.jobs.events, d.keepGoing, EXPIRY_BATCH);
        if (n) d.logger.info({ expired: n }, 'cancelled jobs not claimed before start_before');
      },
    },
    { name: 'delayed-promotion', intervalMs: PROMOTE_INTERVAL_MS, run: () => promoteDueJobs(d.pool, d.keepGoing) },
    { name: 'stats-rollup', intervalMs: STATS_ROLLUP_MS, run: () => rollupStats(d.pool) },
    {
      name: 'retention-purge',
      intervalMs: d.config.retention.purgeIntervalMs,
      run: async () => {
        const r = await d.purger.run({ shouldContinue: d.keepGoing });
        if (r.total) d.logger.info({ purged: r.total, batches: r.batches, ms: Math.round(r.durationMs), done: r.done }, 'retention purge');
        if (r.drift) d.logger.warn({ drift: r.drift }, 'retention purge: jobs rows without a pg-boss row were deleted');
        const idleMs = d.config.retention.queueIdleDropMs;
        if (idleMs > 0 && d.keepGoing()) {
          const dropped = await dropIdleQueues(d.pool, idleMs);
          if (dropped.length) d.logger.info({ queues: dropped }, 'dropped queues that held no job for QUEUE_IDLE_DROP');
        }
      },
    },
    // Our queues' depth comes from our counters; pg-boss's pass over every row would grow with
    // the table (src/stats/pgboss-queue-counts.ts). Its maintenance is for the queue it works.
    { name: 'pgboss-queue-counts', intervalMs: QUEUE_COUNTS_INTERVAL_MS, run: () => writeQueueCounts(d.pool) },
    { name: 'pgboss-maintenance', intervalMs: PGBOSS_SUPERVISE_MS, run: async () => d.getBoss()?.supervise(WEBHOOK_QUEUE) },
  ];
}
