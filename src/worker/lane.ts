// One lane: the claim loop of one model profile, with its own concurrency and
// circuit breaker (circuit.ts). It long-polls for at most as many jobs as it has
// free slots; when the service is unreachable or refuses, it backs off
// (exponentially, with jitter) rather than crashing.
//
// When the circuit opens, the lane ends its open long-poll (the service rolls a
// claim back when its client has gone), hands back the jobs it holds, and probes
// the provider's health with the check behind /api/v1/providers/status, waiting
// WORKER_PROBE_INTERVAL doubled per probe (with jitter) up to
// WORKER_PROBE_INTERVAL_MAX. The provider sees only those probes until one
// answers up; then the lane claims one job (half-open) before claiming in full.
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { type AiServiceClient, ApiError, type ClaimedJob } from '../client/index.ts';
import { checkProvider } from '../providers/check.ts';
import { backoffMs, sleep } from './backoff.ts';
import { Circuit, type LaneState } from './circuit.ts';
import type { Lane as LaneConfig, WorkerConfig } from './config.ts';
import type { Executor } from './executor.ts';
import { brief, circuitHandBack, type Finished, JobRunner } from './job-runner.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { Tracing } from '../tracing/tracing.ts';

/** A health probe gives up after this long (connect, headers and body). */
export const PROBE_TIMEOUT_MS = 5000;

export interface LaneDeps {
  config: WorkerConfig;
  client: AiServiceClient;
  logger: Logger;
  metrics: WorkerMetrics;
  tracing: Tracing;
  /** Aborted when the worker shuts down. */
  stopping: AbortSignal;
  /** For health probes. */
  dispatcher: Dispatcher;
}

export class Lane {
  readonly profile: string;
  readonly running = new Set<JobRunner>();
  readonly circuit: Circuit;
  private readonly lane: LaneConfig;
  private readonly d: LaneDeps;
  private readonly log: Logger;
  private readonly executor: Executor;
  private changed = Promise.withResolvers<void>();

  constructor(lane: LaneConfig, deps: LaneDeps) {
    this.lane = lane;
    this.profile = lane.profile;
    this.d = deps;
    this.log = deps.logger.child({ profile: lane.profile });
    this.executor = lane.executor.create();
    this.circuit = new Circuit(deps.config.circuit.threshold, (to, from) => this.onStateChange(to, from));
  }

  async run(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.d.stopping.addEventListener('abort', () => resolve(), { once: true }));
    let failures = 0;
    while (!this.d.stopping.aborted) {
      if (this.circuit.state === 'open') {
        await this.probeUntilUp();
        continue;
      }
      const free = this.circuit.state === 'half_open' ? 1 - this.running.size : this.lane.concurrency - this.running.size;
      if (free <= 0) {
        await Promise.race([stopped, this.changed.promise, ...[...this.running].map((r) => r.done)]);
        continue;
      }
      let jobs: ClaimedJob[];
      const claimedFrom = Date.now();
      try {
        jobs = (await this.claim(free)).jobs;
        if (failures) this.log.info('claiming again');
        failures = 0;
      } catch (err) {
        if (this.d.stopping.aborted) continue;
        const wait = backoffMs(++failures);
        // A 4xx (bad token, unknown profile) will not fix itself: say so louder than an outage.
        const refused = err instanceof ApiError && err.status < 500;
        this.log[refused ? 'error' : 'warn']({ error: brief(err), retry_in_ms: wait }, 'claim failed; backing off');
        await sleep(wait, this.d.stopping);
        continue;
      }
      for (const job of jobs) this.start(job, claimedFrom);
    }
    this.circuit.drain();
  }

  /** `claimedFrom`: when the claim request that returned the job was sent (epoch ms). */
  private start(job: ClaimedJob, claimedFrom: number): void {
    const { client, logger, config, metrics, tracing } = this.d;
    const runner = new JobRunner(job, this.executor, { client, logger, tracing, leaseSeconds: config.leaseSeconds, claimedFrom });
    this.running.add(runner);
    metrics.inFlight.inc({ model_profile: this.profile });
    // A claim that returned just as the circuit opened: give the job straight back.
    if (this.circuit.state === 'open') runner.handBack(circuitHandBack(this.profile));
    void runner.done.then((f) => this.finished(runner, f));
  }

  private finished(runner: JobRunner, f: Finished): void {
    this.running.delete(runner);
    const { metrics } = this.d;
    metrics.inFlight.dec({ model_profile: this.profile });
    metrics.finished.inc({ model_profile: this.profile, outcome: f.outcome, category: f.category ?? '' });
    if (f.outcome === 'completed') this.circuit.record(undefined);
    else if (f.category !== undefined) this.circuit.record(f.category);
  }

  private onStateChange(to: LaneState, from: LaneState): void {
    this.d.metrics.setLaneState(this.profile, to);
    if (to === 'open') {
      this.d.metrics.circuitOpened.inc({ model_profile: this.profile });
      this.log.warn({ from, jobs_handed_back: this.running.size }, 'circuit open: stopped claiming, probing the provider');
      // A claim in flight is left to finish rather than aborted: aborting could drop an answer
      // the service already committed, stranding its jobs until their lease ran out. It
      // returns at once when jobs are ready, and start() hands them straight back.
      for (const r of this.running) r.handBack(circuitHandBack(this.profile));
    } else if (to === 'half_open') {
      this.log.info('provider answers: claiming one job (half-open)');
    } else if (to === 'claiming') {
      this.log.info({ from }, 'circuit closed: claiming again');
    }
    this.changed.resolve();
    this.changed = Promise.withResolvers<void>();
  }

  private async probeUntilUp(): Promise<void> {
    const { probeIntervalMs, probeIntervalMaxMs } = this.d.config.circuit;
    for (let n = 1; this.circuit.state === 'open' && !this.d.stopping.aborted; n++) {
      await sleep(backoffMs(n, probeIntervalMs, probeIntervalMaxMs), this.d.stopping);
      if (this.d.stopping.aborted) return;
      const r = await checkProvider(this.lane.executor.health, {
        timeoutMs: PROBE_TIMEOUT_MS,
        dispatcher: this.d.dispatcher,
        userAgent: 'ai-service-worker',
      });
      this.d.metrics.probes.inc({ model_profile: this.profile, result: r.status });
      this.d.metrics.probeSeconds.observe({ model_profile: this.profile }, r.latency_ms / 1000);
      this.log.info({ probe: n, status: r.status, error: r.error ?? undefined, latency_ms: r.latency_ms }, 'provider probe');
      if (r.status === 'up') this.circuit.probeSucceeded();
    }
  }

  private claim(limit: number) {
    const c = this.d.config;
    return this.d.client.claimJobs(
      {
        worker_id: c.workerId,
        model_profiles: [this.profile],
        ...(c.taskTypes ? { task_types: c.taskTypes } : {}),
        limit,
        lease_seconds: c.leaseSeconds,
        wait_seconds: c.claimWaitSeconds,
      },
      { signal: this.d.stopping },
    );
  }
}
