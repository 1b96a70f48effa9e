// Every replica claims with the policies in this cache. A trigger on `policies`
// notifies `ai_service_policies` on every change; the cache reloads on that
// notification and, as a backstop for a lost LISTEN connection, every
// POLICY_REFRESH_MS, so a change is in force everywhere within a second.
import pg from 'pg';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.ts';
import type { Policy } from './policy.ts';
import { listPolicies } from './store.ts';

export const POLICIES_CHANNEL = 'ai_service_policies';
const POLICY_REFRESH_MS = 1000;

export class PolicyCache {
  private current: readonly Policy[] = [];
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly pool: Pool;
  private readonly url: string;
  private readonly logger: Logger;
  private readonly onChange: () => void;

  constructor(pool: Pool, url: string, logger: Logger, onChange: () => void = () => {}) {
    this.pool = pool;
    this.url = url;
    this.logger = logger;
    this.onChange = onChange;
  }

  get policies(): readonly Policy[] {
    return this.current;
  }

  /** Never fails: before migrations have run (a start behind the readiness gate) the backstop retries. */
  async start(): Promise<void> {
    await this.reload().catch((err) => this.logger.warn({ err: (err as Error).message }, 'policies not readable yet'));
    await this.listen();
    this.timer = setInterval(() => void this.reload().catch(() => {}), POLICY_REFRESH_MS);
    this.timer.unref();
  }

  /** Reads the table again; wakes waiting claims when anything changed (a resume, a raised cap). */
  async reload(): Promise<void> {
    const next = await listPolicies(this.pool);
    const changed = JSON.stringify(next) !== JSON.stringify(this.current);
    this.current = next;
    if (changed) this.onChange();
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'ai-service-policies' });
    client.on('notification', () => void this.reload().catch(() => {}));
    // A lost connection is replaced at the next backstop reload's pace.
    client.on('error', () => this.dropClient(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${POLICIES_CHANNEL}`);
      this.client = client;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'policy LISTEN connection failed; polling only');
      this.dropClient(client);
    }
  }

  private dropClient(client: pg.Client): void {
    if (this.client === client) this.client = undefined;
    client.removeAllListeners();
    client.on('error', () => {});
    client.end().catch(() => {});
    if (!this.stopped) setTimeout(() => void this.listen(), POLICY_REFRESH_MS).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const c = this.client;
    this.client = undefined;
    c?.removeAllListeners();
    c?.on('error', () => {});
    await c?.end().catch(() => {});
  }
}
