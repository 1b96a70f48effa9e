// A primary whose host dies sends no reset: the service's pooled connections stay open
// and their queries are never answered, and PostgreSQL's statement_timeout cannot reach
// us. Requests must still answer 503 within the statement timeout plus the client-side
// slack (QUERY_DEADLINE_SLACK_MS), not after the kernel gives up many minutes later.
import { expect } from 'chai';
import { QUERY_DEADLINE_SLACK_MS } from '../../src/db/pool.ts';
import { type BlackholeProxy, startBlackholeProxy } from '../support/blackhole-proxy.ts';
import { createTestDatabase } from '../support/database.ts';
import { jobBody, setup, type TestService } from '../support/service.ts';

const STATEMENT_TIMEOUT_MS = 1000;
/** The deadline plus slack for a busy 2-core machine. */
const ANSWER_BOUND_MS = STATEMENT_TIMEOUT_MS + QUERY_DEADLINE_SLACK_MS + 1500;

describe('pooled connections on a dead network path', function () {
  this.timeout(60_000);
  let proxy: BlackholeProxy;
  let t: TestService;

  before(async () => {
    const url = new URL(await createTestDatabase());
    proxy = await startBlackholeProxy({ host: url.hostname, port: Number(url.port) });
    url.port = String(proxy.port);
    t = await setup({ DB_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`, DB_CONNECT_TIMEOUT: '1s' }, url.href);
  });
  after(async () => {
    // Cut the dead connections first, so the service's close does not wait on them.
    await proxy.close();
    await t.close();
  });

  it('answers 503 database_unavailable within the query deadline', async () => {
    const created = await t.api.post('/api/v1/jobs').send(jobBody({ owner_ref: 'before' }));
    expect(created.status).to.equal(201);
    proxy.blackhole();
    for (const req of [
      () => t.api.post('/api/v1/jobs').send(jobBody({ owner_ref: 'during' })),
      () => t.api.get(`/api/v1/jobs/${created.body.id}`),
    ]) {
      const t0 = Date.now();
      const res = await req();
      const ms = Date.now() - t0;
      expect(res.status, JSON.stringify(res.body)).to.equal(503);
      expect(res.body.code).to.equal('database_unavailable');
      expect(ms).to.be.below(ANSWER_BOUND_MS);
    }
  });
});
