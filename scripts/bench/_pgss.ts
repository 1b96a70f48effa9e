// scratch: per-statement PG cost for a scenario (not committed)
import pg from 'pg';
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { startDatabases, startServiceProcess } from './env.ts';
import { HttpDriver } from './http-driver.ts';
import { BaselineDriver } from './baseline-driver.ts';
import { runLoops, perSecond } from './load.ts';
import { vacuumAnalyze } from './seed.ts';
const dir = await mkdtemp('/tmp/pgss-'); await chmod(dir, 0o755);
const emb = await startEmbeddedPostgres(dir + '/pg');
{ const c = new pg.Client(emb.url); await c.connect(); await c.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`); await c.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`); await c.end(); }
await emb.stop(); await emb.restart();
const dbs = await startDatabases(emb.url);
const svc = await startServiceProcess(dbs.serviceUrl);
const which = process.argv[2] ?? 'life';
try {
  const http = new HttpDriver(svc.url, 8);
  const base = await BaselineDriver.start(dbs.baselineUrl, 20);
  const q = { task_type: 'bench_life', model_profile: 'bench-s4' };
  for (const d of [http, base]) { await d.createBatch(q, 20); const j = await d.claim([q], 20, 0); await d.complete(j); }
  for (const u of [dbs.serviceUrl, dbs.baselineUrl]) { const p = new pg.Pool({ connectionString: u }); await vacuumAnalyze(p); await p.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'); await p.query('SELECT pg_stat_statements_reset()'); await p.end(); }
  const op = async (d: any, w: number) => {
    if (which === 'life') { await d.create(q); const j = await d.claim([q], 1, w); await d.complete(j); return j.length; }
    if (which === 'create') { await d.create(q); return 1; }
    await d.createBatch(q, 1000); return 1000;
  };
  for (const d of [http, base]) {
    const r = await runLoops({ concurrency: which === 'batch' ? 2 : 8, durationMs: 5000 }, (w) => op(d, w));
    console.log(d.label, perSecond(r).toFixed(0), 'jobs/s', r.units);
  }
  const p = new pg.Pool({ connectionString: emb.url }); p.on('error', (e) => console.log('pool err', e.message)); await p.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const { rows } = await p.query(`SELECT d.datname, calls, round(total_exec_time::numeric,1) total_ms, round(mean_exec_time::numeric,3) mean_ms, round(total_plan_time::numeric,1) plan_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) q FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid ORDER BY total_exec_time DESC LIMIT 25`);
  for (const r of rows) console.log(r.datname.padEnd(15), String(r.calls).padStart(7), String(r.total_ms).padStart(9), String(r.mean_ms).padStart(8), String(r.plan_ms).padStart(7), r.q);
  await p.end(); await http.close(); await base.close();
} catch (e) { console.log('ERR', (e as Error).message); } finally { await svc.stop(); await dbs.stop(); await emb.stop(); await rm(dir, { recursive: true, force: true }); process.exit(); }
