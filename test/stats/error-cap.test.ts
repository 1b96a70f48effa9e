// Per-category error counters are capped per queue (migration 008, ai_error_key):
// workers name categories freely, so a worker putting a message into the category
// must not create counters without bound.
import { expect } from 'chai';
import { given } from '../support/factory.ts';
import { useService } from '../support/service.ts';

const ERROR_CATEGORY_CAP = 50;
const PROFILE = 'error-cap';

describe('error counters', () => {
  const { t, api } = useService();

  it(`keeps at most ${ERROR_CATEGORY_CAP} categories per queue and counts the rest as other`, async function () {
    this.timeout(60_000);
    const categories = Array.from({ length: ERROR_CATEGORY_CAP + 5 }, (_, i) => `cat-${i}`);
    for (const category of categories) {
      const job = await given.job(t, { status: 'running', model_profile: PROFILE, max_attempts: 1 });
      await api.fail(job.id, { lease_token: job.lease_token, category, message: 'x' });
    }
    // a category counted before the cap was reached keeps counting
    const again = await given.job(t, { status: 'running', model_profile: PROFILE, max_attempts: 1 });
    await api.fail(again.id, { lease_token: again.lease_token, category: 'cat-0', message: 'x' });

    const stats = await api.stats();
    const ours = stats.errors.by_queue.filter((e: { model_profile: string }) => e.model_profile === PROFILE);
    const byCategory = Object.fromEntries(ours.map((e: { category: string; total: number }) => [e.category, e.total]));
    expect(Object.keys(byCategory)).to.have.length(ERROR_CATEGORY_CAP + 1);
    expect(byCategory.other).to.equal(5);
    expect(byCategory['cat-0']).to.equal(2);
    expect(byCategory[`cat-${ERROR_CATEGORY_CAP - 1}`]).to.equal(1);
    expect(byCategory[`cat-${ERROR_CATEGORY_CAP}`]).to.equal(undefined);
  });
});
