// The HTTP server around the Express app: request timeouts that bound slow
// clients, keep-alive that outlives load balancers' idle timeouts, and a close
// that drops no request whose connection reached us.
//
// Why the close is hand-made: closing a listening socket makes the kernel reset
// every connection still in its accept queue, and Node's server.close() also
// destroys accepted connections whose request has not been parsed yet (they
// count as idle). Either way a client that connected before SIGTERM sees
// ECONNRESET. So on close the listener stays open while traffic keeps coming
// (answering with `Connection: close`), and closes only after the load balancer
// has stopped sending for a quiet period; then each connection is closed only
// once it has no request in progress and has had its chance to send one.
import { createServer, type Server } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Express } from 'express';
import type { HttpConfig } from '../config.ts';

/** A slow client may take this long at most to send its headers (or REQUEST_TIMEOUT, if shorter). */
export const HEADERS_TIMEOUT_MAX_MS = 20_000;
/** How often Node checks requests against those timeouts (its default, 30 s, would stretch them). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;
/** A connection accepted this recently may still have its first request in flight. */
const FIRST_REQUEST_GRACE_MS = 1000;
/** How often the close re-checks the listener's quiet period and the open connections. */
const CLOSE_CHECK_INTERVAL_MS = 20;
/** Probes do not count as traffic: a load balancer keeps probing a replica it has stopped routing to. */
const PROBE_PATHS = new Set(['/healthz', '/readyz']);

interface Connection {
  acceptedAt: number;
  requests: number;
  inProgress: number;
}

interface Tracker {
  connections: Map<Socket, Connection>;
  lastTrafficAt: number;
  draining: boolean;
}

const trackers = new WeakMap<Server, Tracker>();

export async function listenHttp(app: Express, config: HttpConfig): Promise<Server> {
  // requestTimeout bounds receiving a whole request (headers and body), not answering it,
  // so long-poll claims are unaffected. headersTimeout need not exceed keepAliveTimeout:
  // Node (since 18) times headers from the start of each request, not from the connection's
  // last activity, so an idle keep-alive connection is never cut by it.
  const s = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(config.requestTimeoutMs, HEADERS_TIMEOUT_MAX_MS),
      keepAliveTimeout: config.keepAliveTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    app,
  );
  track(s);
  return new Promise<Server>((resolve, reject) => {
    s.once('error', reject);
    s.listen(config.port, config.host, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function track(server: Server): void {
  const t: Tracker = { connections: new Map(), lastTrafficAt: 0, draining: false };
  trackers.set(server, t);
  server.on('connection', (socket: Socket) => {
    t.connections.set(socket, { acceptedAt: Date.now(), requests: 0, inProgress: 0 });
    socket.once('close', () => t.connections.delete(socket));
  });
  // Before the app's listener, so the header is set before any handler can answer.
  server.prependListener('request', (req, res) => {
    const c = t.connections.get(req.socket);
    if (c) {
      c.requests++;
      c.inProgress++;
      res.once('close', () => c.inProgress--);
    }
    if (!PROBE_PATHS.has(req.url?.split('?')[0] ?? '')) t.lastTrafficAt = Date.now();
    if (t.draining) res.setHeader('Connection', 'close');
  });
}

export function serverUrl(server: Server): string {
  const a = server.address();
  return typeof a === 'object' && a ? `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : '';
}

export interface CloseOptions {
  /** The listener closes once no request (other than probes) has started for this long. */
  quietMs: number;
  /** Bounds the wait for quiet, and then the wait for in-flight requests, each. */
  timeoutMs: number;
}

/** Drains, stops accepting, lets in-flight requests finish, and cuts the rest after timeoutMs. */
export async function closeHttp(server: Server, { quietMs, timeoutMs }: CloseOptions): Promise<void> {
  const t = trackers.get(server);
  if (!t) throw new Error('closeHttp: the server was not started by listenHttp');
  t.draining = true;
  const drainStart = Date.now();
  // At least one pass of the event loop's poll phase, which accepts everything queued.
  await until(() => Date.now() - t.lastTrafficAt >= quietMs || Date.now() - drainStart >= timeoutMs);
  // net.Server's close, not http.Server's: the latter destroys connections whose first
  // request has not been parsed yet.
  const stopped = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
  const closeStart = Date.now();
  await until(() => {
    const now = Date.now();
    for (const [socket, c] of t.connections) {
      const idle = c.inProgress === 0 && (c.requests > 0 || now - c.acceptedAt >= FIRST_REQUEST_GRACE_MS);
      if (idle || now - closeStart >= timeoutMs) socket.destroy();
    }
    return t.connections.size === 0;
  });
  await stopped;
}

function until(done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (done() ? resolve() : setTimeout(check, CLOSE_CHECK_INTERVAL_MS));
    setTimeout(check, CLOSE_CHECK_INTERVAL_MS);
  });
}
