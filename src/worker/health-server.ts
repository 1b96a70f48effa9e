// The worker's /healthz and /metrics for an orchestrator (WORKER_METRICS_PORT).
// /healthz answers 200 while the process runs and 503 once it drains, with each
// lane's state: an open circuit is not unhealthy (restarting the worker does not
// bring a provider back), so it is reported, not failed.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LaneState } from './circuit.ts';
import type { WorkerMetrics } from './metrics.ts';

export interface LaneHealth {
  model_profile: string;
  state: LaneState;
  in_flight: number;
}

export interface HealthSource {
  lanes(): LaneHealth[];
  draining(): boolean;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(host: string, port: number, source: HealthSource, metrics: WorkerMetrics): Promise<HealthServer> {
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://worker').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      const draining = source.draining();
      const body = JSON.stringify({ status: draining ? 'draining' : 'ok', lanes: source.lanes() });
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' }).end(body);
    } else if (path === '/metrics') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    } else {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ title: 'Not Found', status: 404 }));
    }
  });
  server.keepAliveTimeout = 5000;
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
