// Scenario 16: many open event streams on one replica. Opens one stream per job
// (GET /api/v1/jobs/{id}/events, one HTTP connection each), reads the service's RSS
// before and after, then times status changes made through the API (claim, then
// complete) until the change's event arrives on the job's stream, while every other
// stream stays open. The time runs from sending the request that makes the change,
// so it includes that request (an upper bound on notify → event).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createHistogram } from 'node:perf_hooks';
import { INPUT, OWNER_SERVICE } from './driver.ts';
import { BENCH_TOKENS } from './env.ts';
import { pMs } from './load.ts';
import type { Context, Metric } from './scenario.ts';

const STREAMS = { full: 1000, quick: 50 };
/** Status changes timed (each job is claimed, then completed: two samples per job). */
const TIMED_JOBS = { full: 200, quick: 10 };
const QUEUE = { task_type: 'bench_events', model_profile: 'bench-s16' };
const MIB = 1024 * 1024;
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

interface Stream {
  /** Resolves with the arrival time (performance.now()) of the next status event with this status. */
  nextStatus(status: string): Promise<number>;
  close(): void;
}

function openStream(url: URL, agent: http.Agent): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const waiters = new Map<string, (at: number) => void>();
    const seen = new Map<string, number>();
    const req = http.get(url, { agent, headers: { ...auth(BENCH_TOKENS.admin), accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${url.pathname}: ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const status = /^event: status\ndata: .*"status":"(\w+)"/m.exec(block)?.[1];
          if (!status) continue;
          seen.set(status, at);
          waiters.get(status)?.(at);
        }
      });
      res.on('error', () => {});
      resolve({
        nextStatus: (status) =>
          new Promise((done) => {
            const at = seen.get(status);
            if (at !== undefined) done(at);
            else waiters.set(status, done);
          }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

async function call(base: string, method: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...auth(token), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export async function eventStreams(ctx: Context): Promise<Metric[]> {
  const n = ctx.quick ? STREAMS.quick : STREAMS.full;
  const timed = ctx.quick ? TIMED_JOBS.quick : TIMED_JOBS.full;
  const base = ctx.service.url;
  const { jobs } = await call(base, 'POST', '/api/v1/jobs/batch', BENCH_TOKENS.producer, {
    defaults: { owner_service: OWNER_SERVICE, ...QUEUE, input: INPUT },
    jobs: Array.from({ length: n }, (_, i) => ({ owner_ref: `bench-events-${i}` })),
  });
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const rssBefore = ctx.service.rssBytes() / MIB;
  const streams = new Map<string, Stream>();
  try {
    ctx.log(`  opening ${n} event streams`);
    for (let i = 0; i < n; i += 100) {
      const batch = jobs.slice(i, i + 100) as { id: string }[];
      const opened = await Promise.all(batch.map((j) => openStream(new URL(`/api/v1/jobs/${j.id}/events`, base), agent)));
      for (const [k, j] of batch.entries()) streams.set(j.id, opened[k]);
    }
    await Promise.all([...streams.values()].map((s) => s.nextStatus('pending')));
    const rssAfter = ctx.service.rssBytes() / MIB;
    ctx.log(`  timing ${timed * 2} status changes with ${n} streams open`);
    const h = createHistogram();
    // The requests' own round trips, to tell the service's answer time from the event's delivery.
    const calls = createHistogram();
    const rec = (hist: typeof h, ms: number) => hist.record(Math.max(1, Math.round(ms * 1000)));
    for (let i = 0; i < timed; i++) {
      const t0 = performance.now();
      const claimed = await call(base, 'POST', '/api/v1/jobs/claim', BENCH_TOKENS.worker, {
        worker_id: 'bench-events',
        model_profiles: [QUEUE.model_profile],
        limit: 1,
      });
      rec(calls, performance.now() - t0);
      const job = claimed.jobs[0];
      const stream = streams.get(job.id)!;
      rec(h, (await stream.nextStatus('running')) - t0);
      const t1 = performance.now();
      await call(base, 'POST', `/api/v1/jobs/${job.id}/complete`, BENCH_TOKENS.worker, {
        lease_token: job.lease_token,
        result: { ok: true },
      });
      rec(calls, performance.now() - t1);
      rec(h, (await stream.nextStatus('completed')) - t1);
    }
    const note = `${n} streams open on one replica; from sending the claim/complete to its status event (the request itself: p50 ${pMs(calls, 50).toFixed(1)} ms, p99 ${pMs(calls, 99).toFixed(1)} ms)`;
    return [
      {
        scenario: 16,
        name: `RSS growth with ${n} open streams`,
        unit: 'MiB',
        value: rssAfter - rssBefore,
        baseline: null,
        note: `RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB`,
      },
      { scenario: 16, name: 'status change → event p50', unit: 'ms', value: pMs(h, 50), baseline: null, note },
      { scenario: 16, name: 'status change → event p99', unit: 'ms', value: pMs(h, 99), baseline: null, target: { max: 100 } },
    ];
  } finally {
    for (const s of streams.values()) s.close();
    agent.destroy();
  }
}
