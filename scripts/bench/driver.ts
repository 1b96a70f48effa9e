// What a scenario does, written once and run twice: by the service over HTTP
// (http-driver.ts) and in-process with pg + pg-boss directly (baseline-driver.ts).
export interface QueueRef {
  task_type: string;
  model_profile: string;
}

export interface ClaimedJob {
  id: string;
  queue: string;
  /** The lease token (the baseline also fences pg-boss on retryCount). */
  token: string;
  /** 1 on the first claim (pg-boss retryCount + 1). */
  attempt: number;
}

export interface Driver {
  readonly label: 'service' | 'baseline';
  create(q: QueueRef): Promise<void>;
  createBatch(q: QueueRef, n: number): Promise<void>;
  /**
   * Claims up to `limit` jobs. The service claims across every queue of the given
   * model profiles in one call; pg-boss fetch takes one queue, so the baseline
   * fetches from queues[turn % queues.length].
   */
  claim(queues: QueueRef[], limit: number, turn: number): Promise<ClaimedJob[]>;
  /** Completes the jobs (all from one claim). */
  complete(jobs: ClaimedJob[]): Promise<void>;
  /**
   * Long-poll wake-up: a waiting claimer on `q` is idle, a job is created, and the
   * claimer receives it. Returns milliseconds from the start of the create.
   */
  wakeup(q: QueueRef): Promise<number>;
  close(): Promise<void>;
}

export const queueName = (q: QueueRef) => `${q.task_type}/${q.model_profile}`;

export const OWNER_SERVICE = 'bench';
/** A ~200-byte input, like a small prompt job. */
export const INPUT = {
  prompt: 'Summarise the call and list the action items. '.repeat(3).trim(),
  call: { id: 'beeline/call-000001', duration_s: 312, language: 'ru' },
};

/** Creates as many queue refs as asked: task types t00..tNN on one model profile. */
export function spreadQueues(profile: string, count: number): QueueRef[] {
  return Array.from({ length: count }, (_, i) => ({
    task_type: `t${String(i).padStart(2, '0')}`,
    model_profile: profile,
  }));
}
