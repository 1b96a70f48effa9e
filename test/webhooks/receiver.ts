// A real HTTP receiver on 127.0.0.1 for webhook tests. Each request is answered
// by the next scripted reply (the last one repeats); tests await requests as events.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Delay before answering, to play a slow receiver. */
  delayMs?: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Resolves when at least n requests have arrived. */
  waitFor(n: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(replies: Reply[] = [{ status: 204 }]): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() });
      const reply = replies[Math.min(received.length - 1, replies.length - 1)];
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status, reply.headers);
        res.end('receiver says hello');
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
      for (const w of waiters.filter((x) => received.length >= x.n)) w.resolve();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    waitFor: (n) =>
      received.length >= n ? Promise.resolve(received) : new Promise((resolve) => waiters.push({ n, resolve: () => resolve(received) })),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
