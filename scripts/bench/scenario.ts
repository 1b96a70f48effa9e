// Shared pieces of the scenarios: the run context, the sizes of a full and a quick
// run, metric records with their targets, and the A-B-B-A schedule that runs the
// service and the baseline in alternating halves, so load from anything else on
// the machine drifting during a scenario hits both sides alike.
import type { RecordableHistogram } from 'node:perf_hooks';
import type pg from 'pg';
import type { BaselineDriver } from './baseline-driver.ts';
import { type CpuSnapshot, cpuDelta, cpuSum } from './cpu.ts';
import type { QueueRef } from './driver.ts';
import type { ServiceProcess } from './env.ts';
import type { HttpDriver } from './http-driver.ts';
import type { LoopResult } from './load.ts';

export interface Sizes {
  /** Measured time per side in a throughput scenario (split over two halves). */
  measureMs: number;
  warmupMs: number;
  claimPending: number;
  spreadPending: number;
  statsJobs: number;
  latencySamples: number;
  wakeSamples: number;
}

export const FULL: Sizes = {
  measureMs: 10_000,
  warmupMs: 1500,
  claimPending: 20_000,
  spreadPending: 100_000,
  statsJobs: 1_000_000,
  latencySamples: 2000,
  wakeSamples: 200,
};

export const QUICK: Sizes = {
  measureMs: 400,
  warmupMs: 0,
  claimPending: 500,
  spreadPending: 1000,
  statsJobs: 2000,
  latencySamples: 20,
  wakeSamples: 4,
};

export const CONCURRENCY = 8;
/** Batches are big; two in flight keep both cores busy without queueing behind each other. */
export const BATCH_CONCURRENCY = 2;
export const BATCH_SIZE = 1000;

export interface Context {
  sizes: Sizes;
  quick: boolean;
  service: ServiceProcess;
  /** Direct SQL on the service's database (seeding, vacuum, counts). */
  serviceSql: pg.Pool;
  baselineSql: pg.Pool;
  baseline: BaselineDriver;
  http(connections: number): HttpDriver;
  /** Warms each queue on both sides (creates it, pushes a job through) before measuring. */
  warmQueues(queues: QueueRef[]): Promise<void>;
  log(message: string): void;
  /** CPU used so far by the service, PostgreSQL and this process. */
  cpu(): CpuSnapshot;
}

export interface Target {
  /** value must be >= min (throughput) */
  min?: number;
  /** value must be < max (latency, memory) */
  max?: number;
  /** value / baseline must be >= minRatio */
  minRatio?: number;
}

export interface Metric {
  scenario: number;
  name: string;
  unit: string;
  value: number;
  baseline: number | null;
  target?: Target;
  note?: string;
  /** CPU ms per job by process, for throughput metrics. */
  cpuPerJob?: Side<CpuSnapshot>;
}

/** A builder of one scenario's metrics: name, unit, value, baseline (or null), then the rest. */
export const metricsOf =
  (scenario: number) =>
  (name: string, unit: string, value: number, baseline: number | null, extra: Partial<Metric> = {}): Metric => ({
    scenario,
    name,
    unit,
    value,
    baseline,
    ...extra,
  });

export function targetMet(m: Metric): boolean | null {
  const t = m.target;
  if (!t) return null;
  if (t.min !== undefined && !(m.value >= t.min)) return false;
  if (t.max !== undefined && !(m.value < t.max)) return false;
  if (t.minRatio !== undefined && !(m.baseline && m.value / m.baseline >= t.minRatio)) return false;
  return true;
}

export type Side<T> = { service: T; baseline: T };
const ORDER = ['service', 'baseline', 'baseline', 'service'] as const;

/**
 * Runs `fn` for each side in the order service, baseline, baseline, service and
 * merges the two halves of each side.
 */
export async function abba<T>(ctx: Context, sides: Side<T>, fn: (x: T) => Promise<LoopResult>): Promise<Side<LoopResult>> {
  const halves: Side<LoopResult[]> = { service: [], baseline: [] };
  for (const side of ORDER) halves[side].push(await measured(ctx, () => fn(sides[side])));
  return { service: merge(halves.service), baseline: merge(halves.baseline) };
}

/** Runs fn and attaches the CPU every process spent meanwhile. */
export async function measured(ctx: Context, fn: () => Promise<LoopResult>): Promise<LoopResult> {
  const before = ctx.cpu();
  const r = await fn();
  return { ...r, cpu: cpuDelta(before, ctx.cpu()) };
}

function merge([a, b]: LoopResult[]): LoopResult {
  a.latency.add(b.latency);
  return {
    units: a.units + b.units,
    ops: a.ops + b.ops,
    elapsedMs: a.elapsedMs + b.elapsedMs,
    latency: a.latency,
    cpu: a.cpu && b.cpu ? cpuSum(a.cpu, b.cpu) : undefined,
  };
}

/** CPU milliseconds per unit of work, per process, for each side. */
export function cpuPerUnit(r: Side<LoopResult>): Side<CpuSnapshot> | undefined {
  const per = (x: LoopResult): CpuSnapshot | undefined =>
    x.cpu && x.units
      ? {
          service: x.cpu.service / x.units,
          postgres: x.cpu.postgres === null ? null : x.cpu.postgres / x.units,
          bench: x.cpu.bench / x.units,
        }
      : undefined;
  const service = per(r.service);
  const baseline = per(r.baseline);
  return service && baseline ? { service, baseline } : undefined;
}

/** Same schedule for sampled latencies. */
export async function abbaSamples<T>(sides: Side<T>, fn: (x: T) => Promise<RecordableHistogram>): Promise<Side<RecordableHistogram>> {
  const halves: Side<RecordableHistogram[]> = { service: [], baseline: [] };
  for (const side of ORDER) halves[side].push(await fn(sides[side]));
  halves.service[0].add(halves.service[1]);
  halves.baseline[0].add(halves.baseline[1]);
  return { service: halves.service[0], baseline: halves.baseline[0] };
}
