// The metrics feature as the composition root sees it: a registry, the JobEvents
// sink for the job service, and the router serving /metrics.
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { JobEvents } from '../jobs/events.ts';
import type { StatsService } from '../stats/service.ts';
import { metricsJobEvents } from './job-events.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { registerQueueGauges } from './queue-gauges.ts';
import { metricsRoutes } from './routes.ts';

export interface MetricsFeature {
  metrics: Metrics;
  events: JobEvents;
  routes: Router;
}

export function setupMetrics(stats: StatsService, logger: Logger, token: string | undefined): MetricsFeature {
  const metrics = createMetrics();
  registerQueueGauges(metrics, stats, logger);
  return { metrics, events: metricsJobEvents(metrics), routes: metricsRoutes(metrics, token) };
}
