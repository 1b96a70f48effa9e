// Real HTTP servers on 127.0.0.1 standing in for the providers: an OpenAI-style
// /models endpoint (vLLM), a WhisperX root, a server that never answers, and a
// port with nothing listening.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Fake {
  url: string;
  requests: IncomingMessage[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export async function fakeServer(handler: Handler): Promise<Fake> {
  const requests: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** vLLM's GET /v1/models, optionally requiring `Authorization: Bearer <key>`. */
export function fakeVllm(opts: { key?: string; models: string[]; padBytes?: number }): Promise<Fake> {
  return fakeServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/v1/models') return res.writeHead(404).end();
    if (opts.key && req.headers.authorization !== `Bearer ${opts.key}`) {
      // Real servers often echo what they were sent; the status check must not pass it on.
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: `invalid key ${req.headers.authorization}` }));
    }
    const data = opts.models.map((id) => ({ id, object: 'model', owned_by: 'vllm' }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data, pad: 'x'.repeat(opts.padBytes ?? 0) }));
  });
}

/** A server that accepts connections and never answers. */
export const hangingServer = () => fakeServer(() => {});

/** A URL on which nothing listens (connection refused). */
export async function refusedUrl(): Promise<string> {
  const f = await fakeServer(() => {});
  await f.close();
  return f.url;
}
