// The replica's one LISTEN session carries long-poll wake-ups, policy changes and job
// events (src/db/listen.ts): PostgreSQL wakes every listening backend of a database for
// every NOTIFY, whatever its channel, so each extra session was one more backend woken
// per job status change.
import { expect } from 'chai';
import { PROGRESS_EVENTS_CHANNEL } from '../../src/jobs/progress-store.ts';
import { JOBS_CHANNEL } from '../../src/jobs/waiters.ts';
import { POLICIES_CHANNEL } from '../../src/policies/cache.ts';
import { useService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';

const CHANNELS = [JOBS_CHANNEL, POLICIES_CHANNEL, PROGRESS_EVENTS_CHANNEL];

describe('LISTEN connection', () => {
  const { t } = useService();

  const listening = async () =>
    (
      await t.sql.query(
        `SELECT pid, application_name, query FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`,
      )
    ).rows;

  it('is one session per replica, on every channel the service waits for', async () => {
    const rows = await listening();
    expect(rows).to.have.length(1);
    expect(rows[0].application_name).to.equal('ai-service-listen');
    for (const channel of CHANNELS) expect(rows[0].query).to.include(`LISTEN ${channel}`);
  });

  it('listens on every channel again after its session is cut', async () => {
    const [before] = await listening();
    await t.sql.query('SELECT pg_terminate_backend($1)', [before.pid]);
    const [after] = await waitUntil(
      async () => {
        const rows = await listening();
        return rows.length === 1 && rows[0].pid !== before.pid && rows;
      },
      { what: 'a new LISTEN session' },
    );
    for (const channel of CHANNELS) expect(after.query).to.include(`LISTEN ${channel}`);
  });
});
