// The worker: one claim loop ("lane") per model profile, each with its own
// concurrency. A lane long-polls for at most as many jobs as it has free slots,
// so the worker never holds more jobs than its concurrency; when the service is
// unreachable or refuses, the lane backs off (exponentially, with jitter) and
// tries again rather than crashing.
//
// shutdown(): stop claiming (an open long-poll is aborted), let running jobs
// finish within the grace period, then hand the rest back (see JobRunner).
import type { Logger } from 'pino';
import { type AiServiceClient, ApiError } from '../client/index.ts';
import { backoffMs, sleep } from './backoff.ts';
import type { Lane, WorkerConfig } from './config.ts';
import { brief, JobRunner } from './job-runner.ts';

/** After handing jobs back, how long to wait for the fail calls before exiting anyway. */
const HAND_BACK_TIMEOUT_MS = 10_000;

export class Worker {
  private readonly config: WorkerConfig;
  private readonly client: AiServiceClient;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private readonly running = new Set<JobRunner>();
  private loops: Promise<void>[] = [];

  constructor(config: WorkerConfig, client: AiServiceClient, logger: Logger) {
    this.config = config;
    this.client = client;
    this.logger = logger;
  }

  start(): void {
    this.loops = this.config.lanes.map((lane) => this.lane(lane));
  }

  get inFlight(): number {
    return this.running.size;
  }

  /** Resolves when every job is reported or handed back. `now` skips the grace period. */
  async shutdown(now = false): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    const graceMs = now ? 0 : this.config.shutdownGraceMs;
    if (this.running.size) this.logger.info({ jobs: this.running.size, grace_ms: graceMs }, 'waiting for running jobs');
    const all = () => Promise.all([...this.running].map((r) => r.done));
    if (await settlesWithin(all(), graceMs)) return;
    this.logger.warn({ jobs: this.running.size }, 'grace period over: handing jobs back');
    for (const r of this.running) r.handBack();
    if (!(await settlesWithin(all(), HAND_BACK_TIMEOUT_MS))) this.logger.error('some jobs could not be handed back');
  }

  private async lane(lane: Lane): Promise<void> {
    const log = this.logger.child({ profile: lane.profile });
    const executor = lane.executor.create();
    const mine = new Set<JobRunner>();
    const stopped = new Promise<void>((resolve) => this.stopping.signal.addEventListener('abort', () => resolve()));
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      if (mine.size >= lane.concurrency) {
        await Promise.race([stopped, ...[...mine].map((r) => r.done)]);
        continue;
      }
      let jobs: Awaited<ReturnType<AiServiceClient['claimJobs']>>['jobs'];
      try {
        jobs = (await this.claim(lane, lane.concurrency - mine.size)).jobs;
        if (failures) log.info('claiming again');
        failures = 0;
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        const wait = backoffMs(++failures);
        // A 4xx (bad token, unknown profile) will not fix itself: say so louder than an outage.
        const refused = err instanceof ApiError && err.status < 500;
        log[refused ? 'error' : 'warn']({ error: brief(err), retry_in_ms: wait }, 'claim failed; backing off');
        await sleep(wait, this.stopping.signal);
        continue;
      }
      for (const job of jobs) {
        const runner = new JobRunner(job, executor, { client: this.client, logger: this.logger, leaseSeconds: this.config.leaseSeconds });
        mine.add(runner);
        this.running.add(runner);
        void runner.done.then(() => {
          mine.delete(runner);
          this.running.delete(runner);
        });
      }
    }
  }

  private claim(lane: Lane, limit: number) {
    const c = this.config;
    return this.client.claimJobs(
      {
        worker_id: c.workerId,
        model_profiles: [lane.profile],
        ...(c.taskTypes ? { task_types: c.taskTypes } : {}),
        limit,
        lease_seconds: c.leaseSeconds,
        wait_seconds: c.claimWaitSeconds,
      },
      { signal: this.stopping.signal },
    );
  }
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = await Promise.race([p.then(() => true), timeout]);
  clearTimeout(timer);
  return done;
}
