// Every replica claims with the policies in this cache. A trigger on `policies`
// notifies `ai_service_policies` on every change; the cache reloads on that
// notification (the process's LISTEN connection, src/db/listen.ts), after every
// reconnect of it, and every POLICY_REFRESH_MS as a backstop, so a change is in force
// everywhere within a second.
import type { Logger } from 'pino';
import type { ListenConnection } from '../db/listen.ts';
import type { Pool } from '../db/pool.ts';
import type { Policy } from './policy.ts';
import { listPolicies } from './store.ts';

export const POLICIES_CHANNEL = 'ai_service_policies';
const POLICY_REFRESH_MS = 1000;

export class PolicyCache {
  private current: readonly Policy[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pool: Pool;
  private readonly logger: Logger;
  private readonly onChange: () => void;

  constructor(pool: Pool, connection: ListenConnection, logger: Logger, onChange: () => void = () => {}) {
    this.pool = pool;
    this.logger = logger;
    this.onChange = onChange;
    const reload = () => this.reloadQuietly();
    connection.listen(POLICIES_CHANNEL, { onNotification: reload, onConnected: reload });
  }

  get policies(): readonly Policy[] {
    return this.current;
  }

  /** Never fails: before migrations have run (a start behind the readiness gate) the backstop retries. */
  async start(): Promise<void> {
    await this.reload().catch((err) => this.logger.warn({ err: (err as Error).message }, 'policies not readable yet'));
    this.timer = setInterval(() => this.reloadQuietly(), POLICY_REFRESH_MS);
    this.timer.unref();
  }

  /** Reads the table again; wakes waiting claims when anything changed (a resume, a raised cap). */
  async reload(): Promise<void> {
    const next = await listPolicies(this.pool);
    const changed = JSON.stringify(next) !== JSON.stringify(this.current);
    this.current = next;
    if (changed) this.onChange();
  }

  /** A reload on a notification or the backstop's timer: a failure waits for the next one. */
  private reloadQuietly(): void {
    this.reload().catch(() => {});
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
