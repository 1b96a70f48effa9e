// Process-level series: prom-client's Node.js defaults, made to pass
// `promtool check metrics`, plus ai_service_build_info.
//
// prom-client exports three gauges named *_total (nodejs_active_handles_total,
// nodejs_active_requests_total, nodejs_active_resources_total); Prometheus
// reserves that suffix for counters, so promtool rejects them. Each is the sum
// of the per-type gauge of the same name without the suffix, which stays
// (`sum(nodejs_active_handles)` gives the old value), so they are removed.
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import pkg from '../../package.json' with { type: 'json' };

export const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export function registerProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  // The info-metric idiom: constant 1, the facts in labels, joinable onto any series by instance.
  const buildInfo = new Gauge({
    name: `${prefix}build_info`,
    help: 'Always 1; labels give the service version and the Node.js version it runs on.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  });
  buildInfo.set({ version: pkg.version, node_version: process.versions.node }, 1);
}
