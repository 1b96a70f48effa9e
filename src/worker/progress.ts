// Progress from an executor to the service, throttled: at most one report per
// PROGRESS_EVERY_MS per job; reports in between are merged (the latest wins) and
// the last one is sent when the interval ends. Reporting is best effort: a failed
// report is logged and dropped (the lease is the heartbeat's business), and nothing
// is sent once the job has settled.
import type { Logger } from 'pino';
import type { AiServiceClient } from '../client/index.ts';
import type { JsonObject } from './executor.ts';

export const PROGRESS_EVERY_MS = 500;

export interface ProgressUpdate {
  fraction?: number;
  message?: string;
  output?: JsonObject;
}

export class ProgressSender {
  private pending: ProgressUpdate | undefined;
  private lastSentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Reports go out one after another: two in flight could arrive, and be stored, out of order. */
  private sending: Promise<void> = Promise.resolve();
  private readonly send: (u: ProgressUpdate) => Promise<unknown>;
  private readonly logger: Logger;
  private readonly everyMs: number;

  constructor(client: AiServiceClient, job: { id: string; lease_token: string }, logger: Logger, everyMs = PROGRESS_EVERY_MS) {
    this.send = (u) => client.reportProgress(job.id, { lease_token: job.lease_token, ...u });
    this.logger = logger;
    this.everyMs = everyMs;
  }

  report(u: ProgressUpdate): void {
    if (this.stopped) return;
    this.pending = { ...this.pending, ...u };
    if (this.timer) return;
    const wait = Math.max(0, this.lastSentAt + this.everyMs - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    const u = this.pending;
    this.pending = undefined;
    if (!u || this.stopped) return;
    this.lastSentAt = Date.now();
    this.enqueue(u);
  }

  private enqueue(u: ProgressUpdate): Promise<void> {
    this.sending = this.sending.then(() =>
      this.send(u).then(
        () => {},
        (err) => this.logger.debug({ error: (err as Error).message }, 'progress report failed'),
      ),
    );
    return this.sending;
  }

  /** Sends the pending report now (the executor's last word, e.g. `done`), then stops. */
  async finish(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const u = this.pending;
    this.stopped = true;
    await (u ? this.enqueue(u) : this.sending);
  }

  /** Nothing more is sent (the job is about to be failed). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
