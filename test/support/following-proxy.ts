// A TCP proxy on 127.0.0.1 that follows the primary, as PgBouncer re-pointed by a
// failover hook or HAProxy with Patroni's health checks does: every new client
// connection goes to the current target; retarget() switches the target and cuts
// the connections to the old one (HAProxy's `on-marked-down shutdown-sessions`).
// A connection the target refuses is closed at once. After blackhole(), until the
// next retarget(), new connections are accepted and then never answered, and stay
// so even after it (a dead path, or a pooler queueing logins for a server it cannot
// reach): clients must give up on them by their own timeouts.
import net from 'node:net';

export interface FollowingProxy {
  port: number;
  /** New connections go to this port; connections to the old target are cut. */
  retarget(port: number): void;
  /** New connections hang unanswered until retarget(), and those never recover. */
  blackhole(): void;
  /** Connections currently held unanswered. */
  readonly held: number;
  close(): Promise<void>;
}

export async function startFollowingProxy(targetPort: number): Promise<FollowingProxy> {
  let target = targetPort;
  let holding = false;
  const piped = new Set<net.Socket>();
  const held = new Set<net.Socket>();
  const cut = (set: Set<net.Socket>) => {
    for (const s of set) s.destroy();
    set.clear();
  };
  const server = net.createServer((client) => {
    if (holding) {
      held.add(client);
      client.on('error', () => {});
      client.on('close', () => held.delete(client));
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    const end = () => {
      client.destroy();
      upstream.destroy();
      piped.delete(client);
      piped.delete(upstream);
    };
    client.pipe(upstream);
    upstream.pipe(client);
    for (const s of [client, upstream]) {
      piped.add(s);
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    retarget(port: number) {
      target = port;
      holding = false;
      cut(piped);
    },
    blackhole() {
      holding = true;
    },
    get held() {
      return held.size;
    },
    async close() {
      cut(piped);
      cut(held);
      await new Promise((r) => server.close(r));
    },
  };
}
