// Tracing as the rest of the code sees it: start a span continuing a W3C
// `traceparent`, hand the span's own traceparent on, end it. The OpenTelemetry SDK
// behind it (otel.ts) is imported only when an OTLP endpoint is configured; without
// one, `noTracing` records nothing and a span's traceparent is the parent's,
// unchanged, so the trace context still flows from a caller through the job, the
// worker and the provider call to the webhook.
import type { Logger } from 'pino';
import type { TracingConfig } from '../config.ts';
import { validTraceparent } from './traceparent.ts';

export type SpanKind = 'server' | 'client' | 'internal';
export type Attributes = Record<string, string | number | boolean>;

export interface SpanOptions {
  /** The traceparent this span continues; none (or an invalid one) starts a new trace. */
  parent?: string | null;
  kind?: SpanKind;
  attributes?: Attributes;
  /** When the span began (epoch ms), if before it was started. */
  startTime?: number;
}

export interface Span {
  /** What to send on: this span's traceparent, or with tracing off the parent's (valid) one. */
  readonly traceparent: string | undefined;
  setAttributes(a: Attributes): void;
  rename(name: string): void;
  /** Links this span to spans of other traces (a claim request to the jobs it handed out). */
  link(traceparents: (string | null | undefined)[]): void;
  fail(message: string): void;
  end(endTime?: number): void;
}

export interface Tracing {
  readonly enabled: boolean;
  start(name: string, options?: SpanOptions): Span;
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}

function passThrough(parent: string | undefined): Span {
  return { traceparent: parent, setAttributes() {}, rename() {}, link() {}, fail() {}, end() {} };
}

export const noTracing: Tracing = {
  enabled: false,
  start: (_name, o) => passThrough(validTraceparent(o?.parent)),
  shutdown: async () => {},
};

/** Tracing as configured: the OpenTelemetry SDK when an endpoint is set, otherwise none. */
export async function startTracing(config: TracingConfig, logger: Logger): Promise<Tracing> {
  if (!config.tracesUrl) return noTracing;
  const { createOtelTracing } = await import('./otel.ts');
  logger.info({ traces_url: config.tracesUrl, service_name: config.serviceName }, 'exporting traces over OTLP/HTTP');
  return createOtelTracing(config, logger);
}
