// Time limits: a client that sends its headers or body too slowly is cut off
// (headersTimeout = min(REQUEST_TIMEOUT, 20 s), requestTimeout = REQUEST_TIMEOUT),
// while answering may take longer (a long-poll claim); and a statement that runs
// past DB_STATEMENT_TIMEOUT is cancelled and answered 503, with nothing changed.
import net from 'node:net';
import { expect } from 'chai';
import { client, jobBody, setup, type TestService } from '../support/service.ts';

const DRIP_MS = 100;

/**
 * Opens a raw connection, writes `head`, then one more byte every DRIP_MS (a
 * slow-loris client) until the server closes the connection or `deadlineMs`
 * passes. Resolves with what the server sent and whether it closed.
 */
function slowClient(url: string, head: string, drip: string, deadlineMs: number): Promise<{ closed: boolean; reply: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let reply = '';
    let i = 0;
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(drip[i++ % drip.length]);
    }, DRIP_MS);
    const finish = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(deadline);
      socket.destroy();
      resolve({ closed, reply });
    };
    const deadline = setTimeout(() => finish(false), deadlineMs);
    socket.on('data', (d) => {
      reply += d.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.write(head);
  });
}

describe('time limits', () => {
  describe('on the HTTP server', () => {
    let t: TestService;
    before(async () => {
      t = await setup({ REQUEST_TIMEOUT: '1s' });
    });
    after(() => t.close());

    it('cuts off a client that never finishes its headers', async function () {
      this.timeout(15_000);
      const { closed, reply } = await slowClient(t.url, 'GET /api/v1/stats HTTP/1.1\r\nHost: x\r\n', 'X-Slow: y\r\n', 10_000);
      expect(closed, 'the server closed the connection').to.equal(true);
      expect(reply).to.match(/^HTTP\/1\.1 408/);
    });

    it('cuts off a client that never finishes its body', async function () {
      this.timeout(15_000);
      const head = 'POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":"';
      const { closed, reply } = await slowClient(t.url, head, 'x', 10_000);
      expect(closed, 'the server closed the connection').to.equal(true);
      expect(reply).to.match(/^HTTP\/1\.1 408/);
    });

    it('still answers normal requests, and lets a long-poll claim outlast REQUEST_TIMEOUT', async function () {
      this.timeout(15_000);
      const api = client(t.api);
      const started = Date.now();
      const res = await api.claim({ worker_id: 'w', task_types: ['never'], wait_seconds: 2.5 });
      expect(res.jobs).to.deep.equal([]);
      // The claim waited its full wait_seconds, so the response was not cut at 1 s.
      expect(Date.now() - started).to.be.at.least(2400);
    });
  });

  describe('on the database', () => {
    let t: TestService;
    before(async () => {
      t = await setup({ DB_STATEMENT_TIMEOUT: '300ms' });
    });
    after(() => t.close());

    it('cancels a statement running past DB_STATEMENT_TIMEOUT and answers 503, changing nothing', async () => {
      const api = client(t.api);
      const job = await api.create(jobBody());
      // Another session holds the job's row lock, so the cancel statement waits on it.
      const blocker = await t.sql.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('SELECT 1 FROM jobs WHERE id = $1::uuid FOR UPDATE', [job.id]);
        const res = await t.api.post(`/api/v1/jobs/${job.id}/cancel`).expect(503);
        expect(res.body.code).to.equal('database_timeout');
        expect(res.headers['retry-after']).to.equal('1');
      } finally {
        await blocker.query('ROLLBACK');
        blocker.release();
      }
      expect((await api.get(job.id)).status).to.equal('pending');
      expect((await api.cancel(job.id)).status).to.equal('cancelled');
    });
  });
});
