// The `job` span: a job's whole life, from its create to its final state, as one
// span of the job's trace (a child of the create request's span). It is recorded
// when the job ends, with the stored timestamps, because a span cannot stay open
// across requests, replicas and restarts.
import type { JobRow } from '../jobs/job-row.ts';
import type { Tracing } from './tracing.ts';

export function recordJobLifetime(tracing: Tracing, job: JobRow, traceparent: string | null | undefined): void {
  if (!tracing.enabled || !job.finished_at) return;
  const span = tracing.start('job', {
    parent: traceparent,
    startTime: new Date(job.created_at).getTime(),
    attributes: {
      'ai_service.job.id': job.id,
      'ai_service.job.queue': `${job.task_type}/${job.model_profile}`,
      'ai_service.job.status': job.status,
      'ai_service.job.attempts': job.attempts,
    },
  });
  if (job.error) span.fail(job.error.category);
  span.end(new Date(job.finished_at).getTime());
}
