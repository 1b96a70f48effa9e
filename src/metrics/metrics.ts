// The Prometheus registry of one service instance (not prom-client's global one,
// so several services can run in one process, as the tests do). Every label value
// is a validated slug, an HTTP route pattern, a method or a status code, so the
// number of series stays bounded.
import { Counter, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics.ts';

export const PREFIX = 'ai_service_';

/** At most this many distinct error categories get their own series; more are `other`. */
export const CATEGORY_LABELS_MAX = 64;

const JOB_LABELS = ['task_type', 'model_profile'] as const;

// Queue waits range from milliseconds (idle workers) to hours (a backlog).
const QUEUE_WAIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];
// Model runs: sub-second classification to hour-long transcriptions.
const RUN_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
// HTTP: most calls take milliseconds; long-poll claims take up to 30 s.
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics() {
  const registry = new Registry();
  registerProcessMetrics(registry, PREFIX);
  const counter = (name: string, help: string, extra: string[] = []) =>
    new Counter({ name: `${PREFIX}${name}`, help, labelNames: [...JOB_LABELS, ...extra], registers: [registry] });
  return {
    registry,
    created: counter('jobs_created_total', 'Jobs created (idempotent replays excluded).'),
    claimed: counter('jobs_claimed_total', 'Attempts started: jobs handed to a worker by a claim.'),
    completed: counter('jobs_completed_total', 'Jobs completed.'),
    failed: counter(
      'jobs_failed_total',
      'Failed attempts by error category: a worker reported failure, or the lease expired (category lease_expired); counted whether or not the job is retried.',
      ['category'],
    ),
    retried: counter(
      'jobs_retried_total',
      'Jobs sent back to pending for another attempt: after a retryable failure, after an expired lease, or by an operator retry.',
    ),
    deferred: counter(
      'jobs_deferred_total',
      'Failures in an infrastructure category (provider_unavailable, rate_limited, worker_shutdown) that gave the attempt back instead of counting it, by category (also in jobs_failed_total).',
      ['category'],
    ),
    cancelled: counter('jobs_cancelled_total', 'Jobs cancelled.'),
    leaseExpired: counter('jobs_lease_expired_total', 'Leases that ran out before the worker completed or failed the job.'),
    queueWait: new Histogram({
      name: `${PREFIX}job_queue_wait_seconds`,
      help: 'Time from a job becoming claimable (created, or its run_after if later) to its first claim.',
      labelNames: [...JOB_LABELS],
      buckets: QUEUE_WAIT_BUCKETS,
      registers: [registry],
    }),
    runTime: new Histogram({
      name: `${PREFIX}job_run_seconds`,
      help: 'Time from a claim to the worker completing or failing that attempt.',
      labelNames: [...JOB_LABELS, 'outcome'],
      buckets: RUN_BUCKETS,
      registers: [registry],
    }),
    pgbossAdoptions: new Counter({
      name: `${PREFIX}pgboss_adoptions_total`,
      help: "Changes made through pg-boss's own tools (fetch, complete, fail, cancel, resume, retry, deleteJob, send) that the service adopted, by action.",
      labelNames: ['queue', 'action'],
      registers: [registry],
    }),
    pgbossForeignRows: new Counter({
      name: `${PREFIX}pgboss_foreign_rows_total`,
      help: 'pg-boss rows written into one of our queues without the job contract (owner_service, owner_ref, input): reported, left alone.',
      labelNames: ['queue'],
      registers: [registry],
    }),
    claimsCapped: new Counter({
      name: `${PREFIX}claims_capped_total`,
      help: 'Claims that got fewer jobs than they could have because a policy running cap was reached.',
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: `${PREFIX}webhook_attempts_total`,
      help: 'Webhook delivery attempts by outcome: delivered, retrying (failed, will be retried) or failed (given up).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookLatency: new Histogram({
      name: `${PREFIX}webhook_attempt_seconds`,
      help: 'Duration of webhook delivery attempts (until the receiver answered or the attempt failed).',
      labelNames: ['outcome'],
      buckets: HTTP_BUCKETS,
      registers: [registry],
    }),
    http: new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
