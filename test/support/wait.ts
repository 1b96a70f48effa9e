// The one poll-until helper, for conditions that have no event to await (a row
// changing in another process, a timer-driven pass): poll with a deadline instead
// of sleeping a fixed time. A falsy value means "not yet".
export async function waitUntil<T>(
  check: () => Promise<T | undefined | false | null | 0 | ''> | T | undefined | false | null,
  { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** waitUntil with the description first, for checks written inline. */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  timeoutMs = 10_000,
) {
  return waitUntil(check, { what, timeoutMs });
}

/** Polls an HTTP call until it answers `status`; resolves with that response. */
export function statusBecomes<R extends { status: number }>(get: () => PromiseLike<R>, status: number, timeoutMs = 15_000): Promise<R> {
  return waitUntil(
    async () => {
      const res = await get();
      return res.status === status ? res : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `HTTP ${status}` },
  );
}
