// ai_service_jobs_purged_total: jobs deleted by the retention purge, per queue.
// Read at scrape time from the same `purged` counter as /api/v1/stats (the jobs
// DELETE trigger writes it in the purge's own transaction), not counted in this
// process: so it includes purges run by another replica (the leader) and by
// `npm run purge`, is the same on every replica, and survives restarts, as a
// Prometheus counter should. prom-client has no Counter.set, so collect()
// rebuilds each series from the read (reset, then inc by the exact total).
import { Counter, type Registry } from 'prom-client';

export const PURGED_METRIC = 'ai_service_jobs_purged_total';

export interface PurgedRow {
  task_type: string;
  model_profile: string;
  purged: number;
}

/**
 * Registers the counter. `read` returns the per-queue rows of /api/v1/stats (share
 * the scrape's cached read), or undefined when the read failed: the series are then
 * left out of this scrape rather than reported as zero.
 */
export function registerPurgedCounter(registry: Registry, read: () => Promise<PurgedRow[] | undefined>): Counter {
  return new Counter({
    name: PURGED_METRIC,
    help: 'Jobs deleted by the retention purge (from both stores), per queue, since the queue was created.',
    labelNames: ['task_type', 'model_profile'],
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const q of rows ?? []) {
        this.inc({ task_type: q.task_type, model_profile: q.model_profile }, q.purged);
      }
    },
  });
}
