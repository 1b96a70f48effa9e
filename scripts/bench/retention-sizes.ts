// Disk per million jobs (src/retention/README.md): `node scripts/bench/retention-sizes.ts
// [--api-jobs N]`. Two measurements on a fresh embedded PostgreSQL:
//  1. 1,000,000 completed jobs bulk-written in their final shape (test/support/seed.ts):
//     the floor, every page full;
//  2. N jobs (default 50,000) pushed through the real API (create in batches,
//     claim, complete), then VACUUM: the shape a live table has, with the free
//     space the claim and complete updates leave behind, scaled to 1,000,000.
// Both with a small input (~60 B) and result (~60 B). Tables: jobs, job_attempts,
// job_events (a job's status events; the bulk seed writes only the last),
// job_keys (migration 015), pgboss.job (its default partition job_common holds
// our queues) with indexes and TOAST.
import { parseArgs } from 'node:util';
import pg from 'pg';
import supertest from 'supertest';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/http/request-log.ts';
import { startService } from '../../src/server.ts';
import { startTempPostgres, withClient, withDatabase } from '../../test/support/postgres.ts';
import { seedJobs } from '../../test/support/seed.ts';
import { vacuumAnalyze } from './tables.ts';

const MILLION = 1_000_000;
const BATCH = 1000;
const CLAIM_LIMIT = 100;
const Q = { task_type: 'call_analysis', model_profile: 'sizes' };
const INPUT = { prompt: 'Summarise the call.', call_id: 123456 };
const RESULT = { content: 'The caller asked about a refund.', tokens: 42 };

const SIZES = `
SELECT v.name, pg_relation_size(c.oid) AS heap, pg_indexes_size(c.oid) AS indexes,
       pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid) AS toast,
       pg_total_relation_size(c.oid) AS total
FROM (VALUES (1, 'jobs'), (2, 'job_attempts'), (3, 'job_events'), (4, 'job_keys'), (5, 'pgboss.job_common')) AS v (o, name)
JOIN pg_class c ON c.oid = v.name::regclass ORDER BY v.o`;

async function sizes(url: string, jobs: number): Promise<void> {
  const sql = new pg.Pool({ connectionString: url, max: 1 });
  sql.on('error', () => {}); // an idle connection closed by the server's stop is not an error here
  try {
    await vacuumAnalyze(sql);
    const { rows } = await sql.query(SIZES);
    const mib = (b: number) => ((Number(b) * MILLION) / jobs / 2 ** 20).toFixed(0).padStart(7);
    console.log(`  per 1,000,000 jobs (measured on ${jobs}), MiB:\n  table              heap  indexes   toast    total`);
    let sum = 0;
    for (const r of rows) {
      sum += Number(r.total);
      console.log(`  ${r.name.padEnd(17)}${mib(r.heap)}  ${mib(r.indexes)} ${mib(r.toast)} ${mib(r.total)}`);
    }
    console.log(`  ${'all'.padEnd(17)}${''.padStart(27)}${mib(sum)}`);
  } finally {
    await sql.end();
  }
}

async function service(url: string) {
  const config = loadConfig({ DATABASE_URL: url, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', LOG_LEVEL: 'silent', AUTH_DISABLED: 'true' });
  const s = await startService(config, createLogger('silent'));
  return { s, api: supertest.agent(s.url) };
}

async function expect(res: supertest.Response, status: number) {
  if (res.status !== status) throw new Error(`${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body;
}

async function throughApi(url: string, n: number): Promise<void> {
  const { s, api } = await service(url);
  try {
    for (let i = 0; i < n; i += BATCH) {
      const jobs = Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => ({ owner_ref: `sizes/${i + k}` }));
      await expect(await api.post('/api/v1/jobs/batch').send({ defaults: { owner_service: 'bench', ...Q, input: INPUT }, jobs }), 201);
    }
    for (;;) {
      const { jobs } = await expect(
        await api.post('/api/v1/jobs/claim').send({ worker_id: 'w', model_profiles: [Q.model_profile], limit: CLAIM_LIMIT }),
        200,
      );
      if (!jobs.length) break;
      await Promise.all(
        jobs.map(async (j: any) =>
          expect(await api.post(`/api/v1/jobs/${j.id}/complete`).send({ lease_token: j.lease_token, result: RESULT }), 200),
        ),
      );
    }
  } finally {
    await s.close();
  }
}

async function bulk(url: string): Promise<void> {
  const { s, api } = await service(url);
  try {
    // creates the queue; this one pending job is noise in a million
    await expect(await api.post('/api/v1/jobs').send({ owner_service: 'bench', owner_ref: 'q', ...Q, input: INPUT }), 201);
  } finally {
    await s.close();
  }
  const sql = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await seedJobs(sql, { queues: [Q], status: 'completed', count: MILLION, ageSeconds: 60, owner_service: 'bench', input: INPUT });
  } finally {
    await sql.end();
  }
}

const { values } = parseArgs({ options: { 'api-jobs': { type: 'string', default: '50000' } } });
const apiJobs = Number(values['api-jobs']);
const db = await startTempPostgres('sizes', { fast: true });
try {
  await withClient(db.url, async (c) => {
    await c.query('CREATE DATABASE sizes_bulk');
    await c.query('CREATE DATABASE sizes_api');
  });
  const at = (name: string) => withDatabase(db.url, name);
  console.log('1,000,000 completed jobs, bulk-written (the floor):');
  await bulk(at('sizes_bulk'));
  await sizes(at('sizes_bulk'), MILLION);
  console.log(`${apiJobs} jobs through the API (create, claim, complete), after VACUUM:`);
  await throughApi(at('sizes_api'), apiJobs);
  await sizes(at('sizes_api'), apiJobs);
} finally {
  await db.destroy();
}
