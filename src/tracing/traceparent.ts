// W3C Trace Context `traceparent` values (https://www.w3.org/TR/trace-context/):
// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. A value that does not
// parse is ignored, as the recommendation asks, never refused: a caller's broken
// tracing header must not fail its request.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

export interface TraceContext {
  traceId: string;
  spanId: string;
  /** Bit 0: sampled. */
  flags: number;
}

export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  // Version ff is invalid; version 00 has exactly four fields (later versions may add more).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** The version-00 header for a context: what we store and pass on. */
export function formatTraceparent(c: TraceContext): string {
  return `00-${c.traceId}-${c.spanId}-${(c.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The value in its version-00 form, or undefined when it is not a valid traceparent. */
export function validTraceparent(value: string | null | undefined): string | undefined {
  const c = parseTraceparent(value);
  return c && formatTraceparent(c);
}
