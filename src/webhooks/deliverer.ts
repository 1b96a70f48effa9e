// Delivers completion callbacks from the pg-boss queue `webhooks` (the outbox the
// jobs trigger writes in the same transaction as each state change). Every replica
// runs a deliverer; pg-boss's fetch hands each attempt to exactly one of them.
//
// Attempts and backoff: the queue's retryLimit (WEBHOOK_MAX_ATTEMPTS - 1) and
// exponential backoff with jitter (WEBHOOK_RETRY_BASE, capped by WEBHOOK_RETRY_MAX)
// are pg-boss's own; Retry-After on 429/503 moves the next attempt later. Network
// errors, 408, 429 and 5xx are retried; other statuses (including redirects, which
// are never followed) end the delivery at once.
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { type Pool, withTransaction } from '../db/pool.ts';
import { bossDb } from '../pgboss/boss.ts';
import { type Delivery, delayRetry, getDelivery, makeLastAttempt, recordAttempt, WEBHOOK_QUEUE } from './store.ts';
import { type AttemptResult, postWebhook } from './http-post.ts';
import { publicAddressAgent } from '../lib/address-rules.ts';
import type { Agent } from 'undici';
import { signatureHeader } from './signature.ts';
import { noTracing, type Tracing } from '../tracing/tracing.ts';

export interface DelivererConfig {
  secrets: string[];
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  pollMs: number;
  /** Off: callbacks connect only to public addresses (checked after DNS, at connect). */
  allowPrivateAddresses: boolean;
}

export interface WebhookEvents {
  attempted(result: AttemptResult, outcome: 'delivered' | 'retrying' | 'failed'): void;
}

const BATCH = 10;

/** Creates or updates the `webhooks` queue with the configured retry policy. */
export async function ensureWebhookQueue(boss: PgBoss, c: DelivererConfig): Promise<void> {
  const baseSeconds = Math.round(c.retryBaseMs / 1000);
  const options = {
    retryLimit: c.maxAttempts - 1,
    retryDelay: baseSeconds,
    retryBackoff: baseSeconds > 0,
    ...(baseSeconds > 0 ? { retryDelayMax: Math.max(baseSeconds, Math.round(c.retryMaxMs / 1000)) } : {}),
    // a delivery held by a replica that died is retried after this (pg-boss supervision)
    expireInSeconds: Math.max(60, Math.ceil((c.timeoutMs * 3) / 1000)),
    retentionSeconds: 2_000_000_000,
    deleteAfterSeconds: 0,
  };
  await boss.createQueue(WEBHOOK_QUEUE, options as any);
  await boss.updateQueue(WEBHOOK_QUEUE, options as any);
}

export class WebhookDeliverer {
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly boss: PgBoss;
  private readonly pool: Pool;
  private readonly logger: Logger;
  private readonly c: DelivererConfig;
  private readonly events: WebhookEvents | undefined;
  private readonly publicOnly: Agent | undefined;
  private readonly tracing: Tracing;

  constructor(boss: PgBoss, pool: Pool, logger: Logger, config: DelivererConfig, events?: WebhookEvents, tracing = noTracing) {
    this.boss = boss;
    this.pool = pool;
    this.logger = logger.child({ component: 'webhooks' });
    this.c = config;
    this.events = events;
    this.tracing = tracing;
    this.publicOnly = config.allowPrivateAddresses ? undefined : publicAddressAgent();
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let jobs: { id: string; retryCount: number; data: any }[] = [];
      try {
        jobs = (await this.boss.fetch(WEBHOOK_QUEUE, { batchSize: BATCH })) as any;
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'fetching webhook deliveries failed');
      }
      if (jobs.length) await Promise.all(jobs.map((j) => this.deliver(j)));
      else await this.idle();
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.c.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async deliver(job: { id: string; retryCount: number; data: { delivery_id: string } }): Promise<void> {
    const fence = { id: job.id, retryCount: job.retryCount };
    const attempt = job.retryCount + 1;
    try {
      const d = await getDelivery(this.pool, job.data.delivery_id);
      if (!d) {
        await this.boss.complete(WEBHOOK_QUEUE, fence as any); // the job was purged
        return;
      }
      const result = await this.post(d, attempt);
      const outcome = await withTransaction(this.pool, async (client) => {
        const db = bossDb(client);
        if (result.ok) {
          await this.boss.complete(WEBHOOK_QUEUE, fence as any, null, { db } as any);
          await recordAttempt(client, d.id, { status: 'delivered', attempts: attempt, ...detail(result) });
          return 'delivered' as const;
        }
        const last = !result.retryable || attempt >= this.c.maxAttempts;
        if (last) await makeLastAttempt(client, d.id);
        await this.boss.fail(WEBHOOK_QUEUE, fence as any, { error: result.error }, { db } as any);
        if (!last && result.retryAfterMs !== null) await delayRetry(client, d.id, Math.min(result.retryAfterMs, this.c.retryMaxMs));
        await recordAttempt(client, d.id, { status: last ? 'failed' : 'pending', attempts: attempt, ...detail(result) });
        return last ? ('failed' as const) : ('retrying' as const);
      });
      this.events?.attempted(result, outcome);
      this.logger.info(
        { deliveryId: d.id, jobId: d.job_id, attempt, outcome, status: result.statusCode, ms: result.latencyMs },
        'webhook attempt',
      );
    } catch (err) {
      // Left active: pg-boss expiry retries it (counted as an attempt).
      this.logger.warn({ err: (err as Error).message, deliveryId: job.data.delivery_id }, 'webhook attempt could not be recorded');
    }
  }

  /** One attempt, in a span of the job's trace whose traceparent the receiver gets. */
  private async post(d: Delivery, attempt: number): Promise<AttemptResult> {
    const span = this.tracing.start('webhook delivery', {
      parent: d.traceparent,
      kind: 'client',
      attributes: { 'ai_service.job.id': d.job_id, 'ai_service.webhook.delivery_id': d.id, 'ai_service.webhook.attempt': attempt },
    });
    const body = JSON.stringify(d.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const result = await postWebhook(
      d.url,
      body,
      {
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(this.c.secrets, d.id, timestamp, body),
        ...(span.traceparent ? { traceparent: span.traceparent } : {}),
      },
      this.c.timeoutMs,
      this.publicOnly,
    );
    if (result.statusCode !== null) span.setAttributes({ 'http.response.status_code': result.statusCode });
    if (!result.ok) span.fail(result.error ?? 'not delivered');
    span.end();
    return result;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    await this.publicOnly?.close();
  }
}

function detail(r: AttemptResult) {
  return { statusCode: r.statusCode, error: r.error };
}
