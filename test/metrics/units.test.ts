// The metrics module without a service: the category cap and the scrape-time
// stats read (one read per SCRAPE_CACHE_MS, shared by concurrent scrapes).
import { expect } from 'chai';
import { metricsJobEvents } from '../../src/jobs/metrics.ts';
import { CATEGORY_LABELS_MAX, createMetrics } from '../../src/metrics/metrics.ts';
import { registerQueueGauges } from '../../src/stats/metrics.ts';
import type { StatsService } from '../../src/stats/service.ts';
import type { JobRow } from '../../src/jobs/job-row.ts';
import { captureLogger } from '../support/service.ts';
import { parseExposition, value } from './exposition.ts';

const job = { task_type: 'call_analysis', model_profile: 'p', status: 'failed', started_at: null } as unknown as JobRow;

describe('metrics module', () => {
  it(`gives at most ${CATEGORY_LABELS_MAX} error categories their own series, the rest are "other"`, async () => {
    const m = createMetrics();
    const events = metricsJobEvents(m);
    for (let i = 0; i < CATEGORY_LABELS_MAX + 6; i++) events.failed(job, `cat_${i}`);
    events.failed(job, 'cat_0');
    const f = parseExposition(await m.registry.metrics());
    const series = f.get('ai_service_jobs_failed_total')!.samples;
    expect(series).to.have.length(CATEGORY_LABELS_MAX + 1);
    expect(value(f, 'ai_service_jobs_failed_total', { category: 'other' })).to.equal(6);
    expect(value(f, 'ai_service_jobs_failed_total', { category: 'cat_0' })).to.equal(2);
  });

  it('reads the stats once for concurrent scrapes, and reports stats_up 0 when the read fails', async () => {
    let reads = 0;
    let fail = false;
    const stats = {
      async stats() {
        reads++;
        if (fail) throw new Error('database is down');
        const q = { task_type: 't', model_profile: 'p', pending: 4, delayed: 1, running: 2, completed: 3, failed: 0, cancelled: 0 };
        const held = { held_paused: 0, held_capped: 0, paused: false };
        return { queues: [{ ...q, ...held, oldest_ready_age_seconds: 7.5 }], running_by_owner: [] };
      },
    } as unknown as StatsService;
    const { logger, lines } = captureLogger();
    const m = createMetrics();
    registerQueueGauges(m, stats, logger);
    const texts = await Promise.all([1, 2, 3, 4, 5].map(() => m.registry.metrics()));
    expect(reads).to.equal(1);
    const f = parseExposition(texts[4]);
    expect(value(f, 'ai_service_jobs', { status: 'pending' })).to.equal(4);
    expect(value(f, 'ai_service_jobs', { status: 'running' })).to.equal(2);
    expect(value(f, 'ai_service_jobs_delayed')).to.equal(1);
    expect(value(f, 'ai_service_queue_oldest_ready_age_seconds')).to.equal(7.5);

    const m2 = createMetrics();
    registerQueueGauges(m2, stats, logger);
    fail = true;
    const down = parseExposition(await m2.registry.metrics());
    expect(value(down, 'ai_service_stats_up')).to.equal(0);
    expect(down.get('ai_service_jobs')!.samples).to.deep.equal([]);
    expect(lines.join('')).to.include('metrics: stats read failed');
  });
});
