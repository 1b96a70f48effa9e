// A small round-robin TCP load balancer on 127.0.0.1, behaving like the common
// ones in front of the service: it probes each backend's /readyz and routes new
// connections only to backends that answered 200, and a connection a backend
// refuses is tried on the next backend (nothing was sent yet, so that is safe).
// Each client connection is piped to one backend connection for its whole life.
import net from 'node:net';

const PROBE_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 1000;

export interface Balancer {
  url: string;
  /** Connections whose backend connection failed after it was established (resets). */
  backendErrors: string[];
  close(): Promise<void>;
}

export async function startBalancer(backends: { host: string; port: number }[]): Promise<Balancer> {
  const healthy = backends.map(() => false);
  const backendErrors: string[] = [];
  const sockets = new Set<net.Socket>();
  let next = 0;
  let closed = false;

  const probe = async (i: number) => {
    const { host, port } = backends[i];
    const res = await fetch(`http://${host}:${port}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).catch(() => undefined);
    await res?.body?.cancel();
    healthy[i] = res?.status === 200;
  };
  const probeLoop = async () => {
    while (!closed) {
      await Promise.all(backends.map((_, i) => probe(i)));
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  };

  const connect = (client: net.Socket, triesLeft: number) => {
    if (closed || triesLeft === 0) return client.destroy();
    const candidates = backends.map((_, i) => (next + i) % backends.length).filter((i) => healthy[i]);
    if (!candidates.length) return void setTimeout(() => connect(client, triesLeft - 1), PROBE_INTERVAL_MS);
    const i = candidates[0];
    next = (i + 1) % backends.length;
    const upstream = net.connect(backends[i]);
    sockets.add(upstream);
    let established = false;
    upstream.once('connect', () => {
      established = true;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!established) {
        healthy[i] = false;
        connect(client, triesLeft - 1);
      } else {
        backendErrors.push(err.code ?? err.message);
        client.destroy();
      }
    });
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    connect(client, 50);
  });
  await Promise.all(backends.map((_, i) => probe(i)));
  const loop = probeLoop();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    backendErrors,
    async close() {
      closed = true;
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      await loop;
    },
  };
}
