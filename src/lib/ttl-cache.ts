// A single value computed on demand and reused for `ttlMs`: callers arriving while
// it is being computed share the same promise, so a burst of scrapes or dashboard
// polls costs one computation. A failed computation is not cached.
export class TtlCache<T> {
  private readonly ttlMs: number;
  private readonly compute: () => Promise<T>;
  private value: Promise<T> | undefined;
  private expiresAt = 0;

  constructor(ttlMs: number, compute: () => Promise<T>) {
    this.ttlMs = ttlMs;
    this.compute = compute;
  }

  get(): Promise<T> {
    const now = Date.now();
    if (this.value && now < this.expiresAt) return this.value;
    const p = this.compute();
    this.value = p;
    // Counted from the start, so a slow computation is not reused for longer than ttlMs.
    this.expiresAt = now + this.ttlMs;
    p.catch(() => {
      if (this.value === p) this.value = undefined;
    });
    return p;
  }
}
