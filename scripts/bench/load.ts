// Closed-loop load at a fixed concurrency: N loops each await one operation at a
// time until a deadline (or until the work runs out), recording each operation's
// latency. Throughput is units of work (jobs) per second of wall time.
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { CpuSnapshot } from './cpu.ts';

export interface LoopResult {
  /** Units of work done (jobs). */
  units: number;
  ops: number;
  elapsedMs: number;
  /** Per-operation latency in microseconds. */
  latency: RecordableHistogram;
  /** CPU spent meanwhile, when measured (scenario.ts `measured`). */
  cpu?: CpuSnapshot;
}

export interface LoopOptions {
  concurrency: number;
  durationMs: number;
}

/**
 * Runs `op(worker)` in `concurrency` loops for `durationMs`. `op` returns the
 * units of work it did; returning `null` means "nothing left": that loop stops.
 */
export async function runLoops(opts: LoopOptions, op: (worker: number) => Promise<number | null>): Promise<LoopResult> {
  const latency = createHistogram();
  let units = 0;
  let ops = 0;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  const loop = async (worker: number) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const done = await op(worker);
      if (done === null) return;
      latency.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      units += done;
      ops += 1;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => loop(i)));
  return { units, ops, elapsedMs: performance.now() - start, latency };
}

/** Runs `op` once per sample, one at a time, recording the latency it reports (ms). */
export async function sample(
  opts: { samples: number; durationMs: number },
  op: (i: number) => Promise<number>,
): Promise<RecordableHistogram> {
  const h = createHistogram();
  const deadline = performance.now() + opts.durationMs;
  for (let i = 0; i < opts.samples && performance.now() < deadline; i++) {
    h.record(Math.max(1, Math.round((await op(i)) * 1000)));
  }
  return h;
}

export const perSecond = (r: LoopResult) => (r.units * 1000) / r.elapsedMs;
/** Percentile of a microsecond histogram, in milliseconds. */
export const pMs = (h: RecordableHistogram, p: number) => (h.count ? h.percentile(p) / 1000 : Number.NaN);

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
