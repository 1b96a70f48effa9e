// The OpenTelemetry SDK behind `Tracing`, loaded by tracing.ts only when an OTLP
// endpoint is configured. Spans are batched and POSTed as OTLP/HTTP JSON. No global
// tracer provider or context manager is installed: every span is started from an
// explicit parent traceparent, which is all this service propagates.
import { type Context, type Link, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span as OtelSpan, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { TracingConfig } from '../config.ts';
import { formatTraceparent, parseTraceparent } from './traceparent.ts';
import type { Span, SpanOptions, Tracing } from './tracing.ts';

const KINDS = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;

function contextOf(traceparent: string | null | undefined): Context {
  const c = parseTraceparent(traceparent);
  if (!c) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: c.traceId, spanId: c.spanId, traceFlags: c.flags, isRemote: true });
}

function linkOf(traceparent: string | null | undefined): Link | undefined {
  const c = parseTraceparent(traceparent);
  return c && { context: { traceId: c.traceId, spanId: c.spanId, traceFlags: c.flags, isRemote: true } };
}

function wrap(span: OtelSpan): Span {
  const sc = span.spanContext();
  return {
    traceparent: formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags }),
    setAttributes: (a) => void span.setAttributes(a),
    rename: (name) => void span.updateName(name),
    link: (traceparents) => {
      const links = traceparents.map(linkOf).filter((l): l is Link => l !== undefined);
      if (links.length) span.addLinks(links);
    },
    fail: (message) => void span.setStatus({ code: SpanStatusCode.ERROR, message }),
    end: (endTime) => span.end(endTime),
  };
}

export function createOtelTracing(config: TracingConfig, logger: Logger): Tracing {
  // Retries of a failed export (a collector that is down) stop at the timeout, so a
  // shutdown waits at most that long for the last spans.
  const exporter = new OTLPTraceExporter({ url: config.tracesUrl, timeoutMillis: config.exportTimeoutMs });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: config.exportDelayMs })],
  });
  const tracer = provider.getTracer('ai-service');
  return {
    enabled: true,
    start(name: string, o: SpanOptions = {}) {
      const span = tracer.startSpan(
        name,
        { kind: KINDS[o.kind ?? 'internal'], attributes: o.attributes, startTime: o.startTime },
        contextOf(o.parent),
      );
      return wrap(span);
    },
    async shutdown() {
      await provider.shutdown().catch((err: Error) => logger.warn({ err: err.message }, 'exporting the last spans failed'));
    },
  };
}
