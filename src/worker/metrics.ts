// The worker's own Prometheus registry (not prom-client's global one, so tests can
// run several in one process). Labels are the worker's configured profiles, its
// lane states, job outcomes and error categories (a fixed set: the executors'
// categories plus the worker's own), so the number of series stays bounded.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { LANE_STATES, type LaneState } from './circuit.ts';

export const WORKER_PREFIX = 'ai_worker_';

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export function createWorkerMetrics(profiles: string[]) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: WORKER_PREFIX });
  const laneState = new Gauge({
    name: `${WORKER_PREFIX}lane_state`,
    help: 'Lane state per model profile: 1 for the current state (claiming, open, half_open, draining), 0 for the others.',
    labelNames: ['model_profile', 'state'],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: `${WORKER_PREFIX}jobs_in_flight`,
    help: 'Jobs claimed and not yet reported.',
    labelNames: ['model_profile'],
    registers: [registry],
  });
  const finished = new Counter({
    name: `${WORKER_PREFIX}jobs_finished_total`,
    help: 'Jobs this worker finished, by outcome (completed, retried, failed, cancelled, lease_lost, unreported) and failure category ("" when none).',
    labelNames: ['model_profile', 'outcome', 'category'],
    registers: [registry],
  });
  const circuitOpened = new Counter({
    name: `${WORKER_PREFIX}circuit_opened_total`,
    help: 'Times the lane stopped claiming after consecutive infrastructure failures (re-openings after a half-open try included).',
    labelNames: ['model_profile'],
    registers: [registry],
  });
  const probes = new Counter({
    name: `${WORKER_PREFIX}provider_probes_total`,
    help: "Health probes of a lane's provider while its circuit was open, by result (up, down).",
    labelNames: ['model_profile', 'result'],
    registers: [registry],
  });
  const probeSeconds = new Histogram({
    name: `${WORKER_PREFIX}provider_probe_seconds`,
    help: 'How long a health probe took.',
    labelNames: ['model_profile'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  for (const model_profile of profiles) {
    inFlight.set({ model_profile }, 0);
    circuitOpened.inc({ model_profile }, 0);
    for (const state of LANE_STATES) laneState.set({ model_profile, state }, state === 'claiming' ? 1 : 0);
  }
  return {
    registry,
    inFlight,
    finished,
    circuitOpened,
    probes,
    probeSeconds,
    setLaneState(model_profile: string, current: LaneState): void {
      for (const state of LANE_STATES) laneState.set({ model_profile, state }, state === current ? 1 : 0);
    },
  };
}
