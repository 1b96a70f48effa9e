// Domain events reported after a state change commits. Metrics implement this;
// the service does not know who listens.
import type { AdoptionPass } from './adoption.ts';
import type { JobRow } from './job-row.ts';

export interface JobEvents {
  created(jobs: JobRow[]): void;
  claimed(jobs: JobRow[]): void;
  completed(job: JobRow): void;
  failed(job: JobRow, category: string): void;
  /** A failure that gave its attempt back (reported in addition to `failed`). */
  deferred(job: JobRow, category: string): void;
  retried(job: JobRow): void;
  cancelled(job: JobRow): void;
  leaseExpired(jobs: { task_type: string; model_profile: string; status: string }[]): void;
  /** Changes made through pg-boss's own tools, adopted by the leader. */
  adopted(pass: AdoptionPass): void;
  /** A claim got fewer jobs than it could have because a running cap was reached. */
  capShortened(): void;
}

const noop = () => {};
export const noEvents: JobEvents = {
  created: noop,
  claimed: noop,
  completed: noop,
  failed: noop,
  deferred: noop,
  retried: noop,
  cancelled: noop,
  leaseExpired: noop,
  adopted: noop,
  capShortened: noop,
};
