// Queue gauges, read at scrape time from the same counters as /api/v1/stats. The
// read is cached for SCRAPE_CACHE_MS and shared by concurrent scrapes (and by the
// gauges of one scrape, which prom-client collects in parallel), so the database
// sees at most one stats read per replica per interval, and that read is cheap:
// it never counts job rows except delayed ones, through a partial index.
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { registerPurgedCounter } from '../retention/metrics.ts';
import { TtlCache } from '../lib/ttl-cache.ts';
import type { QueueStats, StatsService } from './service.ts';
import { type Metrics, PREFIX } from '../metrics/metrics.ts';

export const SCRAPE_CACHE_MS = 1000;

const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
const QUEUE_LABELS = ['task_type', 'model_profile'];

/** Sets a gauge's series from the queues read; `undefined` when the read failed. */
type Fill = (g: Gauge, queues: QueueStats[] | undefined) => void;
const queueLabels = (q: QueueStats) => ({ task_type: q.task_type, model_profile: q.model_profile });

export function registerQueueGauges(m: Metrics, stats: StatsService, logger: Logger): void {
  const cache = new TtlCache<QueueStats[] | undefined>(SCRAPE_CACHE_MS, () =>
    stats.stats().then(
      (doc) => doc.queues,
      (err: Error) => {
        logger.warn({ err: { message: err.message } }, 'metrics: stats read failed');
        return undefined;
      },
    ),
  );
  // Each gauge is rebuilt from the cached read at collect time, so queues that
  // disappear (none today: queues are never deleted) would not leave stale series.
  const gauge = (name: string, help: string, labelNames: string[], fill: Fill) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames,
      registers: [m.registry],
      async collect() {
        const queues = await cache.get();
        this.reset();
        fill(this, queues);
      },
    });

  gauge('stats_up', '1 if the job counters could be read at this scrape, 0 if not (queue gauges are then absent).', [], (g, queues) =>
    g.set(queues ? 1 : 0),
  );
  gauge(
    'jobs',
    'Jobs by status per queue, exact at scrape time (the counters behind /api/v1/stats).',
    [...QUEUE_LABELS, 'status'],
    (g, queues) => {
      for (const q of queues ?? []) for (const s of STATUSES) g.set({ ...queueLabels(q), status: s }, q[s]);
    },
  );
  gauge('jobs_delayed', 'Pending jobs whose run_after is still in the future (part of status="pending").', QUEUE_LABELS, (g, queues) => {
    for (const q of queues ?? []) g.set(queueLabels(q), q.delayed);
  });
  gauge(
    'queue_oldest_ready_age_seconds',
    'Seconds the oldest ready job of the queue has been claimable (absent when none is ready).',
    QUEUE_LABELS,
    (g, queues) => {
      for (const q of queues ?? []) if (q.oldest_ready_age_seconds !== null) g.set(queueLabels(q), q.oldest_ready_age_seconds);
    },
  );
  // The retention purge's counter, read from the same cached stats.
  registerPurgedCounter(m.registry, () => cache.get());
}
