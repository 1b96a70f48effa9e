import pg from 'pg';
import { readFileSync } from 'node:fs';
import { startDatabases, startServiceProcess } from './env.ts';
import { HttpDriver } from './http-driver.ts';
const dbs = await startDatabases(undefined);
const svc = await startServiceProcess(dbs.serviceUrl);
const sql = new pg.Pool({ connectionString: dbs.serviceUrl, max: 2 });
try {
  const http = new HttpDriver(svc.url, 8);
  const q = { task_type: 'bench_life', model_profile: 'bench-s4' };
  for (let i = 0; i < 20; i++) await http.createBatch(q, 1000);
  await sql.query('VACUUM ANALYZE');
  const jobs = [...await http.claim([q], 100, 0), ...await http.claim([q], 100, 0), ...await http.claim([q], 100, 0)];
  const src = readFileSync('src/storage/jobs-settle.ts', 'utf8');
  const PG = 'pgboss';
  const HOLDS_LEASE = `id = $1::uuid AND status = 'running' AND lease_token = $2::uuid AND lease_expires_at > now()`;
  const FENCE = `p.name = j.queue AND p.id = j.id AND p.state = 'active' AND p.retry_count = j.attempts - 1`;
  const JOB_COLUMNS = 'id, status';
  const m = /const COMPLETE = `([\s\S]*?)`;/.exec(src)!;
  const text = m[1].replaceAll('${HOLDS_LEASE}', HOLDS_LEASE).replaceAll('${FENCE}', FENCE).replaceAll('${PGBOSS_SCHEMA}', PG).replaceAll('${JOB_COLUMNS}', JOB_COLUMNS);
  const c = await sql.connect();
  try {
  for (const mode of ['force_custom_plan', 'force_generic_plan', 'auto']) {
    await c.query(`SET plan_cache_mode = ${mode}`);
    await c.query(`PREPARE cx(uuid, uuid, jsonb) AS ${text}`);
    let t0 = performance.now();
    for (let i = 0; i < 80; i++) { const j = jobs.pop()!; await c.query(`EXECUTE cx('${j.id}', '${j.token}', '{"ok":true}')`); }
    console.log(mode, 'avg ms per execute', ((performance.now() - t0) / 80).toFixed(3));
    await c.query('BEGIN');
    const j = jobs.pop()!;
    const plan = await c.query(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE cx('${j.id}', '${j.token}', '{"ok":true}')`);
    console.log(mode + '\n' + plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
    await c.query('ROLLBACK');
    await c.query('DEALLOCATE cx');
  }
  } catch (e) { console.log('ERR', (e as Error).message); await c.query('ROLLBACK'); }
  c.release();
  await http.close();
} finally { await sql.end(); await svc.stop(); await dbs.stop(); process.exit(); }
