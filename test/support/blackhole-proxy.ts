// A TCP proxy on 127.0.0.1 that can turn into a dead network path: after
// blackhole(), bytes in either direction are dropped and no FIN or reset is
// passed on, so both ends keep a connection that silently carries nothing (a
// half-open connection, as behind a failed router or a firewall dropping state).
import net from 'node:net';

export interface BlackholeProxy {
  port: number;
  /** Drops all traffic on every current connection, from now on. */
  blackhole(): void;
  close(): Promise<void>;
}

export async function startBlackholeProxy(target: { host: string; port: number }): Promise<BlackholeProxy> {
  const sockets = new Set<net.Socket>();
  let dead = false;
  const forward = (from: net.Socket, to: net.Socket) => {
    from.on('data', (d) => {
      if (!dead) to.write(d);
    });
    from.on('end', () => {
      if (!dead) to.end();
    });
    from.on('error', () => {
      if (!dead) to.destroy();
    });
    from.on('close', () => sockets.delete(from));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client).add(upstream);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole() {
      dead = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
