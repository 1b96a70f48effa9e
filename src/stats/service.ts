// Shapes the counters into the /stats document: per queue, totals, and errors.
// Every figure comes from one read (one snapshot): see stats/store.ts.
import type { Queryable } from '../db/pool.ts';
import { queueHolds, runningByOwner } from '../policies/held.ts';
import type { Policy } from '../policies/policy.ts';
import { type CounterRow, type QueueRow, readStats } from './store.ts';

const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
const SUMMED = [
  'pending',
  'ready',
  'delayed',
  'running',
  'completed',
  'failed',
  'cancelled',
  'completed_last_hour',
  'failed_last_hour',
  'purged',
] as const;

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
  held_paused: number;
  held_capped: number;
  paused: boolean;
}

export interface ErrorStats {
  queue: string;
  task_type: string;
  model_profile: string;
  category: string;
  total: number;
  last_hour: number;
}

type Counters = Map<string, Map<string, CounterRow>>;

function queueStats(q: QueueRow, counters: Counters): QueueStats {
  const total = (key: string) => Number(counters.get(q.queue)?.get(key)?.total ?? 0);
  const lastHour = (key: string) => Number(counters.get(q.queue)?.get(key)?.last_hour ?? 0);
  const s = Object.fromEntries(STATUSES.map((st) => [st, total(`status:${st}`)])) as Record<(typeof STATUSES)[number], number>;
  const delayed = total('delayed');
  return {
    queue: q.queue,
    task_type: q.task_type,
    model_profile: q.model_profile,
    ...s,
    ready: s.pending - delayed,
    delayed,
    oldest_ready_age_seconds: q.oldest_ready_age_seconds === null ? null : Number(q.oldest_ready_age_seconds),
    completed_last_hour: lastHour('finished:completed'),
    failed_last_hour: lastHour('finished:failed'),
    purged: total('purged'),
    held_paused: 0,
    held_capped: 0,
    paused: false,
  };
}

/** Counters keyed `<prefix>:<category>` (error:, deferred:) per category and per queue. */
function categoryStats(prefix: string, counts: CounterRow[], queues: QueueRow[]) {
  const meta = new Map(queues.map((q) => [q.queue, q]));
  const total: Record<string, number> = {};
  const lastHour: Record<string, number> = {};
  const byQueue: ErrorStats[] = [];
  for (const c of counts) {
    if (!c.key.startsWith(`${prefix}:`)) continue;
    const category = c.key.slice(prefix.length + 1);
    const [t, h] = [Number(c.total), Number(c.last_hour)];
    total[category] = (total[category] ?? 0) + t;
    lastHour[category] = (lastHour[category] ?? 0) + h;
    const m = meta.get(c.queue);
    const [taskType, modelProfile] = c.queue.split('/');
    byQueue.push({
      queue: c.queue,
      task_type: m?.task_type ?? taskType,
      model_profile: m?.model_profile ?? modelProfile,
      category,
      total: t,
      last_hour: h,
    });
  }
  return { total, last_hour: lastHour, by_queue: byQueue };
}

function countersOf(counts: CounterRow[]): Counters {
  const counters: Counters = new Map();
  for (const c of counts) {
    if (!counters.has(c.queue)) counters.set(c.queue, new Map());
    counters.get(c.queue)!.set(c.key, c);
  }
  return counters;
}

/** Each queue's figures from the counters alone (no policy holds): what /stats and pg-boss's queue counts share. */
export async function queueFigures(db: Queryable): Promise<QueueStats[]> {
  const { counts, queues } = await readStats(db);
  const counters = countersOf(counts);
  return queues.map((q) => queueStats(q, counters));
}

export class StatsService {
  private readonly db: Queryable;
  private readonly policies: () => readonly Policy[];

  constructor(db: Queryable, policies: () => readonly Policy[] = () => []) {
    this.db = db;
    this.policies = policies;
  }

  async stats() {
    const policies = this.policies();
    const [{ generated_at, counts, queues }, holds, running_by_owner] = await Promise.all([
      readStats(this.db),
      queueHolds(this.db, policies),
      runningByOwner(this.db, policies),
    ]);
    const counters = countersOf(counts);
    const perQueue = queues.map((q) => ({ ...queueStats(q, counters), ...holds.get(q.queue) }));
    const totals = Object.fromEntries(SUMMED.map((k) => [k, perQueue.reduce((a, q) => a + q[k], 0)]));
    return {
      generated_at,
      totals,
      queues: perQueue,
      running_by_owner,
      errors: categoryStats('error', counts, queues),
      deferrals: categoryStats('deferred', counts, queues),
    };
  }
}
