import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { expectProblem, RESULT } from './helpers.ts';

describe('reading jobs', () => {
  const { t, api } = useService();

  describe('GET /jobs/{id}', () => {
    it('returns the job with its result and its attempts', async () => {
      const job = await api.create(jobBody({ model_profile: 'read-get' }));
      const { jobs } = await api.claim({ worker_id: 'gpu-07', model_profiles: ['read-get'] });
      await api.complete(job.id, { lease_token: jobs[0].lease_token, result: RESULT });
      const got = await api.get(job.id);
      expect(got).to.include({ id: job.id, status: 'completed', owner_ref: job.owner_ref });
      expect(got.result).to.deep.equal(RESULT);
      expect(got.attempts_history).to.have.length(1);
      expect(got.attempts_history[0]).to.include({ attempt: 1, worker_id: 'gpu-07', outcome: 'completed', error: null });
    });

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      expectProblem(await api.get(crypto.randomUUID(), 404), 'not_found');
      const bad = await api.get('not-a-uuid', 400);
      expectProblem(bad, 'validation_failed');
      expect(JSON.stringify(bad.errors)).to.include('id');
    });
  });

  describe('GET /jobs', () => {
    const OWNER = 'list-owner';
    let created: any[];
    before(async () => {
      const mk = (i: number) =>
        jobBody({
          owner_service: i % 2 ? OWNER : 'list-other',
          owner_ref: `ref-${i % 3}`,
          task_type: i % 4 ? 'list-task' : 'list-task-b',
          model_profile: 'list-profile',
          input: { i },
        });
      created = (await api.batch({ jobs: Array.from({ length: 12 }, (_, i) => mk(i)) })).jobs;
      // job 0 running, job 1 cancelled
      await api.claim({ worker_id: 'w', model_profiles: ['list-profile'] });
      await api.cancel(created[1].id);
    });

    const ids = (page: any) => page.jobs.map((j: any) => j.input.i);

    it('lists newest first', async () => {
      const page = await api.list({ model_profile: 'list-profile' });
      expect(ids(page)).to.deep.equal([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      expect(page.next_cursor).to.equal(null);
    });

    it('filters by owner_service, owner_ref, task_type, model_profile and status', async () => {
      expect(ids(await api.list({ owner_service: OWNER }))).to.deep.equal([11, 9, 7, 5, 3, 1]);
      expect(ids(await api.list({ owner_ref: 'ref-1', model_profile: 'list-profile' }))).to.deep.equal([10, 7, 4, 1]);
      expect(ids(await api.list({ owner_service: OWNER, owner_ref: 'ref-1' }))).to.deep.equal([7, 1]);
      expect(ids(await api.list({ task_type: 'list-task-b' }))).to.deep.equal([8, 4, 0]);
      expect(ids(await api.list({ model_profile: 'list-profile', status: 'running' }))).to.deep.equal([0]);
      expect(ids(await api.list({ model_profile: 'list-profile', status: 'cancelled' }))).to.deep.equal([1]);
      expect(ids(await api.list({ owner_service: 'nobody' }))).to.deep.equal([]);
    });

    it('pages with an opaque cursor until next_cursor is null', async () => {
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: Record<string, string | number> = { model_profile: 'list-profile', limit: 5 };
        if (cursor) query.cursor = cursor;
        const page: any = await api.list(query);
        expect(page.jobs.length).to.be.at.most(5);
        seen.push(...ids(page));
        cursor = page.next_cursor;
        pages++;
      } while (cursor);
      expect(pages).to.equal(3);
      expect(seen).to.deep.equal([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    });

    it('pages by owner_ref, keeping the other filters', async () => {
      const first = await api.list({ owner_ref: 'ref-1', model_profile: 'list-profile', limit: 2 });
      expect(ids(first)).to.deep.equal([10, 7]);
      const second = await api.list({ owner_ref: 'ref-1', model_profile: 'list-profile', limit: 2, cursor: first.next_cursor });
      expect(ids(second)).to.deep.equal([4, 1]);
    });

    it("refuses a change of a job's owner_ref in the database (job_keys copies it once)", async () => {
      const err = await t.sql.query(`UPDATE jobs SET owner_ref = 'moved' WHERE id = $1::uuid`, [created[2].id]).catch((e) => e);
      expect(err).to.have.property('code', '23514');
      expect(ids(await api.list({ owner_ref: 'ref-2', model_profile: 'list-profile' }))).to.deep.equal([11, 8, 5, 2]);
    });

    it('accepts an owner_ref with a slash as written, without percent-encoding', async () => {
      const job = await api.create(jobBody({ owner_ref: 'beeline/call-8812', model_profile: 'list-slash' }));
      const res = await t.api.get('/api/v1/jobs?owner_ref=beeline/call-8812&model_profile=list-slash');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.jobs.map((j: any) => j.id)).to.deep.equal([job.id]);
    });

    it('keeps filters across pages', async () => {
      const first = await api.list({ owner_service: OWNER, limit: 4 });
      expect(ids(first)).to.deep.equal([11, 9, 7, 5]);
      const second = await api.list({ owner_service: OWNER, limit: 4, cursor: first.next_cursor });
      expect(ids(second)).to.deep.equal([3, 1]);
      expect(second.next_cursor).to.equal(null);
    });

    it('accepts limit 1-500 and rejects others, bad cursors and unknown parameters with 400', async () => {
      expect((await api.list({ limit: 500 })).jobs.length).to.be.at.most(500);
      expect((await api.list({ model_profile: 'list-profile', limit: 1 })).jobs).to.have.length(1);
      const notUuid = Buffer.from('-'.repeat(36)).toString('base64url');
      for (const q of [
        { limit: 0 },
        { limit: 501 },
        { cursor: 'garbage!' },
        { cursor: notUuid },
        { status: 'done' },
        { colour: 'red' },
        { owner_service: 'not a slug' },
      ]) {
        expectProblem(await api.list(q as any, 400), 'validation_failed');
      }
    });
  });
});
