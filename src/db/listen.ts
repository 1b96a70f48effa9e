// One LISTEN connection on the direct database URL, reconnecting after a second
// when it drops. Notifications sent while it was down are lost, so `onConnected`
// runs after every (re)connect: the owner re-checks whatever it waits for.
import pg from 'pg';
import type { Logger } from 'pino';

export const RECONNECT_DELAY_MS = 1000;

export interface ListenOptions {
  url: string;
  logger: Logger;
  applicationName: string;
  channel: string;
  onNotification: (payload: string) => void;
  onConnected: () => void;
  /** DB_CONNECT_TIMEOUT: a connect that never answers would otherwise end LISTEN for good. */
  connectTimeoutMs?: number;
}

export class ListenConnection {
  private client: pg.Client | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly o: ListenOptions;

  constructor(options: ListenOptions) {
    this.o = options;
  }

  async start(): Promise<void> {
    try {
      const client = new pg.Client({
        connectionString: this.o.url,
        application_name: this.o.applicationName,
        connectionTimeoutMillis: this.o.connectTimeoutMs ?? 3000,
        // A dead path that drops packets without a reset ends in an error, and a reconnect.
        keepAlive: true,
      });
      client.on('notification', (msg) => this.o.onNotification(msg.payload ?? ''));
      client.on('error', () => this.reconnect());
      client.on('end', () => this.reconnect());
      await client.connect();
      await client.query(`LISTEN ${this.o.channel}`);
      this.client = client;
      this.o.onConnected();
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, channel: this.o.channel }, 'LISTEN connection failed; retrying');
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
