// The HTTP server around the Express app: request timeouts that bound slow
// clients, and a close that lets in-flight requests finish (up to a limit).
import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import type { HttpConfig } from '../config.ts';

/** A slow client may take this long at most to send its headers (or REQUEST_TIMEOUT, if shorter). */
export const HEADERS_TIMEOUT_MAX_MS = 20_000;
/** How often Node checks requests against those timeouts (its default, 30 s, would stretch them). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

export async function listenHttp(app: Express, config: HttpConfig): Promise<Server> {
  // requestTimeout bounds receiving a whole request (headers and body), not answering it,
  // so long-poll claims are unaffected.
  const s = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(config.requestTimeoutMs, HEADERS_TIMEOUT_MAX_MS),
      keepAliveTimeout: 5000,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    app,
  );
  return new Promise<Server>((resolve, reject) => {
    s.once('error', reject);
    s.listen(config.port, config.host, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

export function serverUrl(server: Server): string {
  const a = server.address();
  return typeof a === 'object' && a ? `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : '';
}

/** Stops accepting, closes idle keep-alive connections, and cuts the rest after timeoutMs. */
export async function closeHttp(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}
