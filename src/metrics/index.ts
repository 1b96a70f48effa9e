// The metrics feature as the composition root sees it: a registry, the JobEvents
// sink for the job service, and the router serving /metrics.
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { JobEvents } from '../jobs/events.ts';
import type { StatsService } from '../stats/service.ts';
import type { WebhookEvents } from '../webhooks/deliverer.ts';
import { metricsJobEvents } from './job-events.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { registerQueueGauges } from './queue-gauges.ts';
import { metricsRoutes } from './routes.ts';

export interface MetricsFeature {
  metrics: Metrics;
  events: JobEvents;
  webhookEvents: WebhookEvents;
  routes: Router;
}

export function setupMetrics(stats: StatsService, logger: Logger, token: string | undefined): MetricsFeature {
  const metrics = createMetrics();
  registerQueueGauges(metrics, stats, logger);
  const webhookEvents: WebhookEvents = {
    attempted(result, outcome) {
      metrics.webhookAttempts.inc({ outcome });
      metrics.webhookLatency.observe({ outcome }, result.latencyMs / 1000);
    },
  };
  return { metrics, events: metricsJobEvents(metrics), webhookEvents, routes: metricsRoutes(metrics, token) };
}
