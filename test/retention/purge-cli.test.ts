// `npm run purge` as an operator runs it: a separate process against the same
// database as a running service. Killing it with SIGKILL mid-way must leave both
// stores and the counters consistent, and a second run must finish the job.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { expect } from 'chai';
import { SERVICE_APPLICATION_NAME, withTransaction } from '../../src/db/pool.ts';
import { seedJobs } from '../support/seed.ts';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';
import { expectConsistent } from '../support/consistency.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PROFILE = 'purge-cli';
const BACKLOG = 20_000;

function purge(databaseUrl: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['scripts/purge.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, RETENTION_COMPLETED: '1d', RETENTION_FAILED: '1d', RETENTION_CANCELLED: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  return { child, output: () => out };
}

async function run(databaseUrl: string, args: string[]): Promise<string> {
  const p = purge(databaseUrl, args);
  const [code] = await once(p.child, 'exit');
  expect(code, p.output()).to.equal(0);
  return p.output();
}

describe('npm run purge', function () {
  this.timeout(120_000);
  let t: TestService;
  let api: ReturnType<typeof client>;
  const count = async (where: string) => Number((await t.sql.query(`SELECT count(*) AS n FROM jobs WHERE ${where}`)).rows[0].n);

  before(async () => {
    // The service's own purge is off, so only the script deletes.
    t = await setup({ RETENTION_COMPLETED: '0', RETENTION_FAILED: '0', RETENTION_CANCELLED: '0' });
    api = client(t.api);
    await api.create(jobBody({ model_profile: PROFILE })); // creates the queue; stays pending
    const q = { queues: [{ task_type: 'call_analysis', model_profile: PROFILE }] };
    // seeded as the service writes, so pg-boss's watch triggers note none of it (notedChanges below)
    await withTransaction(t.sql, async (c) => {
      await c.query(`SELECT set_config('application_name', $1::text, true)`, [SERVICE_APPLICATION_NAME]);
      await seedJobs(c, { ...q, status: 'completed', count: BACKLOG, ageSeconds: 3 * 86_400 });
      await seedJobs(c, { ...q, status: 'failed', count: 10, ageSeconds: 3 * 86_400 });
      await seedJobs(c, { ...q, status: 'completed', count: 5, ageSeconds: 3600 });
      await seedJobs(c, { ...q, status: 'pending', count: 5, ageSeconds: 365 * 86_400 });
    });
    await t.sql.query('VACUUM ANALYZE jobs');
  });
  after(() => t.close());

  it('--dry-run prints what would be deleted per queue and status, and deletes nothing', async () => {
    const out = await run(t.databaseUrl, ['--dry-run']);
    const queue = `call_analysis/${PROFILE}`;
    expect(out).to.match(new RegExp(`${queue}\\s+completed\\s+${BACKLOG}\\n`));
    expect(out).to.match(new RegExp(`${queue}\\s+failed\\s+10\\n`));
    expect(out).to.match(new RegExp(`total\\s+${BACKLOG + 10}\\n`));
    expect(out).to.include('cancelled keep forever');
    expect(await count('true')).to.equal(BACKLOG + 10 + 5 + 5 + 1);
  });

  it('rejects bad arguments with a usage message and exit code 2', async () => {
    const p = purge(t.databaseUrl, ['--batch-size', '0']);
    const [code] = await once(p.child, 'exit');
    expect(code).to.equal(2);
    expect(p.output()).to.include('--batch-size must be an integer 1-100000');
  });

  // pg-boss's watch triggers (migration 004) note pgboss.job changes made by anyone but
  // the service, for the leader to adopt; the purge writes both stores at once, as the service.
  const notedChanges = async () =>
    Number((await t.sql.query(`SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'pgboss_changes'`)).rows[0].n_tup_ins);

  it('leaves both stores consistent when killed mid-way, and a second run finishes the purge', async () => {
    const before = (await api.stats()).totals.purged;
    const notedBefore = await notedChanges();
    const p = purge(t.databaseUrl, ['--batch-size', '200']);
    await waitUntil(async () => (await count(`status = 'completed'`)) < BACKLOG, { what: 'purge under way' });
    p.child.kill('SIGKILL');
    await once(p.child, 'exit');
    const left = await count(`status = 'completed'`);
    expect(left, 'killed before it finished').to.be.greaterThan(5);
    await expectConsistent(t.sql, { counters: true });

    const out = await run(t.databaseUrl, []);
    expect(out).to.match(/total\s+\d+\n/);
    expect(await count(`status = 'completed'`)).to.equal(5);
    expect(await count(`status = 'failed'`)).to.equal(0);
    expect(await count(`status = 'pending'`)).to.equal(6);
    await expectConsistent(t.sql, { counters: true });
    expect((await api.stats()).totals.purged - before).to.equal(BACKLOG + 10);
    // each purge process has exited, and a backend flushes its statistics as it exits
    expect(await notedChanges(), 'pg-boss rows the purge deleted, noted as changes made through pg-boss').to.equal(notedBefore);
  });
});
