// The worker: one Lane (claim loop with its own concurrency and circuit breaker)
// per model profile, plus /healthz and /metrics when WORKER_METRICS_PORT is set.
//
// shutdown(): stop claiming (an open long-poll is aborted), let running jobs
// finish within the grace period, then hand the rest back (see JobRunner).
import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { AiServiceClient } from '../client/index.ts';
import type { WorkerConfig } from './config.ts';
import { type HealthServer, startHealthServer } from './health-server.ts';
import { type JobRunner, shutdownHandBack } from './job-runner.ts';
import { Lane, PROBE_TIMEOUT_MS } from './lane.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { noTracing, type Tracing } from '../tracing/tracing.ts';

/** After handing jobs back, how long to wait for the fail calls before exiting anyway. */
const HAND_BACK_TIMEOUT_MS = 10_000;

export class Worker {
  readonly metrics: WorkerMetrics;
  private readonly config: WorkerConfig;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private readonly probeAgent: Agent;
  private readonly lanes: Lane[];
  private loops: Promise<void>[] = [];
  private health: HealthServer | undefined;

  constructor(config: WorkerConfig, client: AiServiceClient, logger: Logger, tracing: Tracing = noTracing) {
    this.config = config;
    this.logger = logger;
    this.metrics = createWorkerMetrics(config.lanes.map((l) => l.profile));
    const t = PROBE_TIMEOUT_MS;
    this.probeAgent = new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 4000 });
    const deps = { config, client, logger, tracing, metrics: this.metrics, stopping: this.stopping.signal, dispatcher: this.probeAgent };
    this.lanes = config.lanes.map((l) => new Lane(l, deps));
  }

  /** Starts the lanes, and the health server if configured (its port is logged). */
  async start(): Promise<void> {
    this.loops = this.lanes.map((l) => l.run());
    const m = this.config.metrics;
    if (!m) return;
    this.health = await startHealthServer(m.host, m.port, this.healthSource(), this.metrics);
    this.logger.info({ host: m.host, port: this.health.port }, 'worker health and metrics listening');
  }

  get inFlight(): number {
    return this.running().length;
  }

  /** Resolves when every job is reported or handed back. `now` skips the grace period. */
  async shutdown(now = false): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    const graceMs = now ? 0 : this.config.shutdownGraceMs;
    if (this.inFlight) this.logger.info({ jobs: this.inFlight, grace_ms: graceMs }, 'waiting for running jobs');
    const all = () => Promise.all(this.running().map((r) => r.done));
    if (!(await settlesWithin(all(), graceMs))) {
      this.logger.warn({ jobs: this.inFlight }, 'grace period over: handing jobs back');
      for (const r of this.running()) r.handBack(shutdownHandBack());
      if (!(await settlesWithin(all(), HAND_BACK_TIMEOUT_MS))) this.logger.error('some jobs could not be handed back');
    }
    await this.health?.close();
    await this.probeAgent.close();
  }

  private running(): JobRunner[] {
    return this.lanes.flatMap((l) => [...l.running]);
  }

  private healthSource() {
    return {
      draining: () => this.stopping.signal.aborted,
      lanes: () => this.lanes.map((l) => ({ model_profile: l.profile, state: l.circuit.state, in_flight: l.running.size })),
    };
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
