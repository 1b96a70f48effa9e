// Exponential backoff with "equal jitter" (half fixed, half random), and a
// sleep that ends early when the worker stops, so shutdown never waits on it.
import { setTimeout as delay } from 'node:timers/promises';

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30_000;

/** Delay before retry number `n` (1-based). */
export function backoffMs(n: number, baseMs = BACKOFF_BASE_MS, maxMs = BACKOFF_MAX_MS): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => {});
}
