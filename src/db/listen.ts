// The process's one LISTEN connection, on the direct database URL, reconnecting after a
// second when it drops. Every feature that waits for a notification listens on its own
// channel here (long-poll wake-ups, job events, policy changes): PostgreSQL wakes every
// listening backend of the database for every NOTIFY, whatever its channel, so each extra
// LISTEN connection was one more backend woken per job status change. Notifications sent
// while the connection was down are lost, so each channel's `onConnected` runs after every
// (re)connect: its owner re-checks whatever it waits for.
import pg from 'pg';
import type { Logger } from 'pino';

export const RECONNECT_DELAY_MS = 1000;

export interface ListenOptions {
  url: string;
  logger: Logger;
  applicationName: string;
  /** DB_CONNECT_TIMEOUT: a connect that never answers would otherwise end LISTEN for good. */
  connectTimeoutMs?: number;
}

export interface ChannelListener {
  onNotification: (payload: string) => void;
  onConnected: () => void;
}

export class ListenConnection {
  private client: pg.Client | undefined;
  private started = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly o: ListenOptions;
  private readonly channels = new Map<string, ChannelListener>();

  constructor(options: ListenOptions) {
    this.o = options;
  }

  /** Adds a channel; before start(), so one LISTEN statement covers them all. */
  listen(channel: string, listener: ChannelListener): void {
    if (this.started) throw new Error(`LISTEN ${channel}: add channels before the connection starts`);
    if (this.channels.has(channel)) throw new Error(`LISTEN ${channel}: the channel already has a listener`);
    this.channels.set(channel, listener);
  }

  /** Resolves once listening, or once the first attempt failed (it retries in the background). */
  async start(): Promise<void> {
    this.started = true;
    try {
      const client = new pg.Client({
        connectionString: this.o.url,
        application_name: this.o.applicationName,
        connectionTimeoutMillis: this.o.connectTimeoutMs ?? 3000,
        // A dead path that drops packets without a reset ends in an error, and a reconnect.
        keepAlive: true,
      });
      client.on('notification', (msg) => this.channels.get(msg.channel)?.onNotification(msg.payload ?? ''));
      client.on('error', () => this.reconnect());
      client.on('end', () => this.reconnect());
      await client.connect();
      await client.query([...this.channels.keys()].map((c) => `LISTEN ${c}`).join('; '));
      this.client = client;
      for (const l of this.channels.values()) l.onConnected();
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, channels: [...this.channels.keys()] }, 'LISTEN connection failed; retrying');
      this.reconnect();
    }
  }

  private reconnect(): void {
    const c = this.client;
    this.client = undefined;
    c?.removeAllListeners();
    c?.on('error', () => {});
    c?.end().catch(() => {});
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.start();
    }, RECONNECT_DELAY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const c = this.client;
    this.client = undefined;
    c?.removeAllListeners();
    c?.on('error', () => {});
    await c?.end().catch(() => {});
  }
}
