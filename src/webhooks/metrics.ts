// WebhookEvents → Prometheus: one counter increment and one latency observation per delivery attempt.
import type { Metrics } from '../metrics/metrics.ts';
import type { WebhookEvents } from './deliverer.ts';

export function metricsWebhookEvents(m: Metrics): WebhookEvents {
  return {
    attempted(result, outcome) {
      m.webhookAttempts.inc({ outcome });
      m.webhookLatency.observe({ outcome }, result.latencyMs / 1000);
    },
  };
}
