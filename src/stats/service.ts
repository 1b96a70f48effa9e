// Shapes the counters into the /stats document: per queue, totals, and errors.
import type { Queryable } from '../db/pool.ts';
import { type CounterRow, readStats } from '../storage/stats.ts';

const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;

export interface QueueStats {
  queue: string;
  task_type: string;
  model_profile: string;
  pending: number;
  ready: number;
  delayed: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  oldest_ready_age_seconds: number | null;
  completed_last_hour: number;
  failed_last_hour: number;
  purged: number;
}

export class StatsService {
  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  async stats() {
    const { generated_at, counts, queues } = await readStats(this.db);
    const byQueue = new Map<string, Map<string, CounterRow>>();
    for (const c of counts) {
      if (!byQueue.has(c.queue)) byQueue.set(c.queue, new Map());
      byQueue.get(c.queue)!.set(c.key, c);
    }
    const total = (q: string, key: string) => Number(byQueue.get(q)?.get(key)?.total ?? 0);
    const lastHour = (q: string, key: string) => Number(byQueue.get(q)?.get(key)?.last_hour ?? 0);

    const perQueue: QueueStats[] = queues.map((q) => {
      const s = Object.fromEntries(STATUSES.map((st) => [st, total(q.queue, `status:${st}`)])) as Record<
        (typeof STATUSES)[number],
        number
      >;
      const delayed = Number(q.delayed);
      return {
        queue: q.queue,
        task_type: q.task_type,
        model_profile: q.model_profile,
        ...s,
        ready: s.pending - delayed,
        delayed,
        oldest_ready_age_seconds: q.oldest_ready_age_seconds === null ? null : Number(q.oldest_ready_age_seconds),
        completed_last_hour: lastHour(q.queue, 'finished:completed'),
        failed_last_hour: lastHour(q.queue, 'finished:failed'),
        purged: total(q.queue, 'purged'),
      };
    });

    const sumKeys = ['pending', 'ready', 'delayed', 'running', 'completed', 'failed', 'cancelled', 'completed_last_hour', 'failed_last_hour', 'purged'] as const;
    const totals = Object.fromEntries(sumKeys.map((k) => [k, perQueue.reduce((a, q) => a + q[k], 0)]));

    const meta = new Map(queues.map((q) => [q.queue, q]));
    const errorsTotal: Record<string, number> = {};
    const errorsHour: Record<string, number> = {};
    const byQueueErrors = [];
    for (const c of counts) {
      if (!c.key.startsWith('error:')) continue;
      const category = c.key.slice('error:'.length);
      const t = Number(c.total);
      const h = Number(c.last_hour);
      errorsTotal[category] = (errorsTotal[category] ?? 0) + t;
      errorsHour[category] = (errorsHour[category] ?? 0) + h;
      const m = meta.get(c.queue);
      byQueueErrors.push({
        queue: c.queue,
        task_type: m?.task_type ?? c.queue.split('/')[0],
        model_profile: m?.model_profile ?? c.queue.split('/')[1],
        category,
        total: t,
        last_hour: h,
      });
    }
    return {
      generated_at,
      totals,
      queues: perQueue,
      errors: { total: errorsTotal, last_hour: errorsHour, by_queue: byQueueErrors },
    };
  }
}
