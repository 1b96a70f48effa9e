// Queue gauges, read at scrape time from the same counters as /api/v1/stats. The
// read is cached for SCRAPE_CACHE_MS and shared by concurrent scrapes (and by the
// gauges of one scrape, which prom-client collects in parallel), so the database
// sees at most one stats read per replica per interval, and that read is cheap:
// it never counts job rows (src/stats/store.ts).
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import { registerPurgedCounter } from '../retention/metrics.ts';
import { TtlCache } from '../lib/ttl-cache.ts';
import type { OwnerRunning } from '../policies/held.ts';
import type { QueueStats, StatsService } from './service.ts';
import { type Metrics, PREFIX } from '../metrics/metrics.ts';

export const SCRAPE_CACHE_MS = 1000;

const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
const QUEUE_LABELS = ['task_type', 'model_profile'];

/** Sets a gauge's series from the queues read; `undefined` when the read failed. */
type Fill = (g: Gauge, queues: QueueStats[] | undefined, owners: OwnerRunning[] | undefined) => void;
const queueLabels = (q: QueueStats) => ({ task_type: q.task_type, model_profile: q.model_profile });

export function registerQueueGauges(m: Metrics, stats: StatsService, logger: Logger): void {
  const cache = new TtlCache<{ queues: QueueStats[]; running_by_owner: OwnerRunning[] } | undefined>(SCRAPE_CACHE_MS, () =>
    stats.stats().then(
      (doc) => doc,
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
        const doc = await cache.get();
        this.reset();
        fill(this, doc?.queues, doc?.running_by_owner);
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
  gauge(
    'jobs_held',
    'Ready pending jobs a policy holds back, per queue: reason="paused" or "capped" (a running cap reached).',
    [...QUEUE_LABELS, 'reason'],
    (g, queues) => {
      for (const q of queues ?? []) {
        g.set({ ...queueLabels(q), reason: 'paused' }, q.held_paused);
        g.set({ ...queueLabels(q), reason: 'capped' }, q.held_capped);
      }
    },
  );
  gauge('owner_running_jobs', 'Running jobs per owner service and model profile.', ['owner_service', 'model_profile'], (g, _q, owners) => {
    for (const o of owners ?? []) g.set({ owner_service: o.owner_service, model_profile: o.model_profile }, o.running);
  });
  gauge(
    'owner_max_running',
    'The tightest running cap covering an owner service in a model profile (absent: no cap).',
    ['owner_service', 'model_profile'],
    (g, _q, owners) => {
      for (const o of owners ?? [])
        if (o.max_running !== null) g.set({ owner_service: o.owner_service, model_profile: o.model_profile }, o.max_running);
    },
  );
  // The retention purge's counter, read from the same cached stats.
  registerPurgedCounter(m.registry, async () => (await cache.get())?.queues);
}
