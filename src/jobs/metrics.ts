// JobEvents → Prometheus: the job service reports each committed state change and
// this turns it into counter increments and histogram observations. Durations
// come from the database's own timestamps on the returned rows, so they do not
// depend on this replica's clock.
import type { JobEvents } from './events.ts';
import type { JobRow } from './job-row.ts';
import { CATEGORY_LABELS_MAX, type Metrics } from '../metrics/metrics.ts';

type Labelled = Pick<JobRow, 'task_type' | 'model_profile'>;

const labels = (j: Labelled) => ({ task_type: j.task_type, model_profile: j.model_profile });
const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

export function metricsJobEvents(m: Metrics): JobEvents {
  const categories = new Set<string>();
  // Categories are slugs chosen by workers: bounded per value, but not in number.
  const category = (c: string) => {
    if (categories.has(c)) return c;
    if (categories.size >= CATEGORY_LABELS_MAX) return 'other';
    categories.add(c);
    return c;
  };
  const ran = (job: JobRow, outcome: 'completed' | 'failed') => {
    // A retried failure leaves finished_at empty; updated_at is the moment it failed.
    const end = job.finished_at ?? job.updated_at;
    if (job.started_at) m.runTime.observe({ ...labels(job), outcome }, seconds(job.started_at, end));
  };
  return {
    created(jobs) {
      for (const j of jobs) m.created.inc(labels(j));
    },
    claimed(jobs) {
      for (const j of jobs) {
        m.claimed.inc(labels(j));
        const attempt = (j as JobRow & { attempt?: number }).attempt ?? j.attempts;
        if (attempt !== 1 || !j.started_at) continue;
        const ready = Date.parse(j.run_after) > Date.parse(j.created_at) ? j.run_after : j.created_at;
        m.queueWait.observe(labels(j), seconds(ready, j.started_at));
      }
    },
    completed(job) {
      m.completed.inc(labels(job));
      ran(job, 'completed');
    },
    failed(job, cat) {
      m.failed.inc({ ...labels(job), category: category(cat) });
      if (job.status === 'pending') m.retried.inc(labels(job));
      ran(job, 'failed');
    },
    deferred(job, cat) {
      m.deferred.inc({ ...labels(job), category: category(cat) });
    },
    retried(job) {
      m.retried.inc(labels(job));
    },
    cancelled(job) {
      m.cancelled.inc(labels(job));
    },
    adopted(pass) {
      for (const a of pass.adopted) m.pgbossAdoptions.inc({ queue: a.queue, action: a.action });
      for (const f of pass.foreign) m.pgbossForeignRows.inc({ queue: f.queue });
    },
    capShortened() {
      m.claimsCapped.inc();
    },
    leaseExpired(jobs) {
      for (const j of jobs) {
        m.leaseExpired.inc(labels(j));
        m.failed.inc({ ...labels(j), category: category('lease_expired') });
        if (j.status === 'pending') m.retried.inc(labels(j));
      }
    },
  };
}
